#!/usr/bin/env python3
"""moto's server mode for the QA week benchmark: moto's own application, answering one request at a
time, with a rollback of TransactWriteItems that restores the items the transaction touched instead of
a deep copy of the whole table. Counts the DynamoDB requests it answers, by operation, at
GET /_qa_week/requests.

Why not `moto_server -p PORT` as it is (moto 5.x):

- It serves requests on several threads, and its TransactWriteItems is not atomic across them: it
  deep-copies the table, applies the items, and on a failed condition puts the copy back, undoing the
  writes other threads made meanwhile. Two clients, each taking 3 slots of its own counter through
  40 transactions, left both counters at 6.
- That deep copy of the whole table is made for every item of every transaction: a transaction costs
  50 to 230 ms once the table holds a few hundred items, and the week (about 20,000 transactions)
  would take an hour.

Here a lock makes every request whole (as DynamoDB's transactions are), and the rollback snapshots
only the transaction's own items (before any write, through moto's own get_item) and restores them
through moto's own delete_item and put_item. Conditions, updates, cancellation reasons and
ReturnValuesOnConditionCheckFailure stay moto's own code.

Usage: python3 moto_serial.py PORT
"""

import copy
import json
import logging
import sys
import threading

from werkzeug.serving import run_simple

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class _Copy:
    """The `copy` module as moto's DynamoDB backend sees it: every copy as before, but a table's."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


models.copy = _Copy
_transact = DynamoDBBackend.transact_write_items


def _key(backend, op_type, op):
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: op["Item"][name] for name in names}


def transact_write_items(self, transact_items):
    before = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            key = _key(self, op_type, op)
            current = self.get_item(op["TableName"], key)
            attributes = None if current is None else current.to_json()["Attributes"]
            before.append((op["TableName"], key, attributes))
        except Exception:
            pass  # moto's own checks refuse the transaction, before any write
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(before):
            self.delete_item(table_name, key)
            if attributes is not None:
                self.put_item(table_name, attributes)
        raise


DynamoDBBackend.transact_write_items = transact_write_items


class Serial:
    """One request at a time, counted by operation (X-Amz-Target)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.counts = {}

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_qa_week/requests":
            with self.lock:
                body = json.dumps(self.counts).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        with self.lock:
            if target.startswith("DynamoDB_"):
                operation = target.split(".", 1)[-1]
                self.counts[operation] = self.counts.get(operation, 0) + 1
            return list(self.app(environ, start_response))


if __name__ == "__main__":
    # A line per request on stderr costs time; the counts above say what was asked.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    run_simple("127.0.0.1", int(sys.argv[1]), Serial(DomainDispatcherApplication(create_backend_app)), threaded=True)
