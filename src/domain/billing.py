"""The index from a payment provider's customer to the account it pays for.

Its id is derived from the customer id, so a webhook finds the account from the customer an event
names, and two servers linking the same customer race on one aggregate id (the store lets one win).
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

CUSTOMER_NAMESPACE = UUID("5d1e7a0c-2f4b-4b8e-9a63-1c0e8f2d7b45")


def customer_index_id(customer_id: str) -> UUID:
    return uuid5(CUSTOMER_NAMESPACE, customer_id)


class BillingCustomer(Aggregate):
    class Created(Aggregate.Created):
        customer_id: str
        account_id: str

    def __init__(self, customer_id: str, account_id: str) -> None:
        self.customer_id = customer_id
        self.account_id = account_id

    @classmethod
    def claim(cls, *, customer_id: str, account_id: UUID) -> BillingCustomer:
        assert customer_id
        return cls._create(
            cls.Created,
            id=customer_index_id(customer_id),
            customer_id=customer_id,
            account_id=str(account_id),
        )
