"""A finished-looking preview for showing off: the answer page on a sheet with a soft drop shadow.

Downscaled from the answer page (a preview, not a print), laid on a warm neutral background and turned
by a small fixed angle. No randomness: the same artwork gives the same bytes.
"""

from __future__ import annotations

from PIL import Image, ImageFilter

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.render import answer_rgb

BEAUTY_REDUCE = 3  # 300 dpi page → 100 dpi preview: 850×1100 px for Letter
BEAUTY_PAD_PX = 170
BEAUTY_BACKGROUND_RGB = (233, 229, 222)
BEAUTY_SHADOW_OFFSET_PX = (14, 22)
BEAUTY_SHADOW_BLUR_PX = 22
BEAUTY_SHADOW_ALPHA = 95
BEAUTY_ANGLE_DEG = -2.0


def beauty_image(artwork: Artwork) -> Image.Image:
    """Return an RGB preview of the solved page lying on a table, with a soft shadow."""
    sheet = Image.fromarray(answer_rgb(artwork), mode="RGB").reduce(BEAUTY_REDUCE)
    sheet_rgba = sheet.convert("RGBA").rotate(
        BEAUTY_ANGLE_DEG, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0, 0)
    )
    width = sheet_rgba.width + 2 * BEAUTY_PAD_PX
    height = sheet_rgba.height + 2 * BEAUTY_PAD_PX
    canvas = Image.new("RGBA", (width, height), (*BEAUTY_BACKGROUND_RGB, 255))
    shadow_alpha = sheet_rgba.getchannel("A").point(lambda a: a * BEAUTY_SHADOW_ALPHA // 255)
    shadow = Image.new("RGBA", sheet_rgba.size, (40, 32, 24, 0))
    shadow.putalpha(shadow_alpha)
    shadow_layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    dx, dy = BEAUTY_SHADOW_OFFSET_PX
    shadow_layer.paste(shadow, (BEAUTY_PAD_PX + dx, BEAUTY_PAD_PX + dy))
    shadow_layer = shadow_layer.filter(ImageFilter.GaussianBlur(BEAUTY_SHADOW_BLUR_PX))
    canvas = Image.alpha_composite(canvas, shadow_layer)
    canvas.alpha_composite(sheet_rgba, (BEAUTY_PAD_PX, BEAUTY_PAD_PX))
    return canvas.convert("RGB")
