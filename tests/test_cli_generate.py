from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from mosaic.cli import main
from mosaic.cli.generate import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

IMAGES = Path(__file__).parent / "fixtures" / "images"


def test_generate_writes_the_zip_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "coffee.zip"
    assert main(["generate", str(IMAGES / "coffee.png"), "-o", str(out)]) == EXIT_OK
    assert "palette.json" in zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist()


def test_generate_takes_the_options_of_the_api(tmp_path: Path) -> None:
    out = tmp_path / "page.svg"
    argv = ["generate", str(IMAGES / "chelsea.png"), "--mode", "voronoi", "--output", "svg"]
    argv += ["--colors", "8", "--page", "a4", "--density", "easy", "-o", str(out)]
    assert main(argv) == EXIT_OK
    assert b'viewBox="0 0 842 595"' in out.read_bytes()  # chelsea is wider than tall
    assert main([*argv, "--orientation", "portrait"]) == EXIT_OK
    assert b'viewBox="0 0 595 842"' in out.read_bytes()


def test_generate_colors_with_a_paint_set(tmp_path: Path) -> None:
    out = tmp_path / "page.svg"
    argv = ["generate", str(IMAGES / "chelsea.png"), "--mode", "hex", "--output", "svg"]
    assert main([*argv, "--palette", "ff0000,00ff00,0000ff,ffffff", "-o", str(out)]) == EXIT_OK
    fills = set(re.findall(rb'data-fill="(#[0-9a-f]{6})"', out.read_bytes()))
    assert fills and fills <= {b"#ff0000", b"#00ff00", b"#0000ff", b"#ffffff"}
def test_generate_makes_a_poster_pdf_offline(tmp_path: Path) -> None:
    out = tmp_path / "poster.pdf"
    assert main(["generate", str(IMAGES / "coffee.png"), "--mode", "hex", "--tiles", "2x2", "-o", str(out)]) == EXIT_OK
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--colors", "21"], "--colors"),
        (["--mode", "mosaic"], "--mode"),
        (["--preset", "nope"], "--preset"),
        (["--mode", "ai"], "upstream AI"),
        (["--palette", "crayola-9"], "--palette: 'crayola-9' is not a paint set"),
        (["--palette", "crayola-8", "--colors", "9"], "--colors: 9 is more than the 8 colors"),
        (["--output", "book"], "/api/bulk"),
        (["--tiles", "9x9"], "--tiles"),
    ],
)
def test_a_bad_option_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "x.zip"
    assert main(["generate", str(IMAGES / "coffee.png"), *extra, "-o", str(out)]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("flag", "value", "refused"), [("--output", "png", "book"), ("--mode", "mosaic", "ai")])
def test_a_bad_mode_or_output_lists_only_what_this_command_makes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, refused: str
) -> None:
    out = tmp_path / "x.zip"
    assert main(["generate", str(IMAGES / "coffee.png"), flag, value, "-o", str(out)]) == EXIT_BAD_INPUT
    message = capsys.readouterr().err
    assert f"{flag}: {value!r} is not one of " in message
    listed = message.split("is not one of ")[1].strip().split(", ")
    assert refused not in listed and len(listed) >= 4


def test_an_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.zip")])
    assert code == EXIT_BAD_INPUT
    assert "cannot read" in capsys.readouterr().err


def test_a_rejected_image_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gif = IMAGES / "no_time_for_that_tiny.gif"
    assert main(["generate", str(gif), "-o", str(tmp_path / "x.zip")]) == EXIT_BAD_INPUT
    assert "PNG, JPEG" in capsys.readouterr().err


def test_an_unwritable_output_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir.png"
    argv = ["generate", str(IMAGES / "coffee.png"), "--output", "legend", "-o", str(out)]
    assert main(argv) == EXIT_FAILED


def test_missing_the_output_path_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["generate", str(IMAGES / "coffee.png")])
    assert raised.value.code == 2
