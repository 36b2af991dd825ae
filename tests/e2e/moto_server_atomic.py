"""moto_server with DynamoDB's conditional writes made atomic, as they are in DynamoDB.

moto's threaded server evaluates a write's condition and then applies the write without a lock,
so two concurrent conditional writes on one item can both pass their condition. The end-to-end
lease test saw it under load: two pull runs both took lease version 3, so neither reported
`skipped: locked` (DynamoDB itself never allows that). This launcher runs every DynamoDB write
of moto's backend under one lock, then starts moto_server unchanged with the same arguments.
The harness (tests/e2e/src/lib.rs, `Moto::start`) runs it with the project's .venv Python.
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _atomic(original):
    @functools.wraps(original)
    def locked(self, *args, **kwargs):
        with _LOCK:
            return original(self, *args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    sys.exit(main())
