"""Loaded by moto's server when the QA state tests start it (tests/support/moto.rs puts this directory
first on its PYTHONPATH), and nowhere else.

1. One request at a time. moto's server handles each request on a thread of its own, and its
   TransactWriteItems is not atomic across threads: it checks each condition, then writes, and undoes a
   cancelled transaction by restoring a copy of the whole table taken before it began, which also undoes
   what other threads wrote meanwhile (20 takes racing for 3 slots: 4 succeeded, the counter said 3).
   DynamoDB's transactions are serializable; served one request at a time, moto's are too, so the
   concurrency tests check this function's conditions rather than moto's threads.
2. Gone with the tests. With MOTO_EXIT_WITH_STDIN=1, the server exits when its standard input closes:
   the test process that started it holds the other end, so a test binary that dies without running
   its destructors leaves no server behind.
3. A cancelled transaction rolled back item by item. moto deep-copies the whole table for every item
   of every TransactWriteItems, to put the copy back if the transaction is cancelled: a transaction
   costs 50 to 230 ms once the table holds a few hundred items, and the QA week benchmark (about 20,000
   transactions, most of them cancelled by a full counter) would take an hour. Served one request at a
   time, nothing but the transaction itself can change the table while it runs, so restoring the items
   it names is the same rollback: each is read (moto's get_item) before moto's own transaction code
   runs, and on any failure put back as it was (moto's delete_item and put_item). Conditions, updates,
   cancellation reasons and ReturnValuesOnConditionCheckFailure stay moto's code. A transaction then
   costs a few milliseconds whatever the table's size.
"""
import copy
import os
import sys
import threading

import werkzeug.serving

_run_simple = werkzeug.serving.run_simple


def _one_request_at_a_time(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


werkzeug.serving.run_simple = _one_request_at_a_time


def _roll_back_by_item():
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    class CopyKeepingTables:
        """The `copy` module as moto's DynamoDB backend sees it: every deep copy but a table's."""

        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def key_of(backend, op_type, op):
        if op_type != "Put":
            return op["Key"]
        table = backend.get_table(op["TableName"])
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: op["Item"][name] for name in names}

    transact_write_items = DynamoDBBackend.transact_write_items

    def transact_rolled_back_by_item(self, transact_items):
        before = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                key = key_of(self, op_type, op)
                current = self.get_item(op["TableName"], key)
            except Exception:
                continue  # moto's own checks refuse the transaction, before any write
            before.append((op["TableName"], key, None if current is None else current.to_json()["Attributes"]))
        try:
            return transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(before):
                self.delete_item(table_name, key)
                if attributes is not None:
                    self.put_item(table_name, attributes)
            raise

    models.copy = CopyKeepingTables
    DynamoDBBackend.transact_write_items = transact_rolled_back_by_item


_roll_back_by_item()

if os.environ.get("MOTO_EXIT_WITH_STDIN") == "1":

    def _exit_when_stdin_closes():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()

print("moto: one request at a time, transactions rolled back by item (tests/support/moto_one_at_a_time)", file=sys.stderr, flush=True)
