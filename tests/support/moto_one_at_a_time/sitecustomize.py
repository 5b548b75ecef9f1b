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
"""
import os
import sys
import threading

import werkzeug.serving

_run_simple = werkzeug.serving.run_simple


def _one_request_at_a_time(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


werkzeug.serving.run_simple = _one_request_at_a_time

if os.environ.get("MOTO_EXIT_WITH_STDIN") == "1":

    def _exit_when_stdin_closes():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()

print("moto: one request at a time (tests/support/moto_one_at_a_time)", file=sys.stderr, flush=True)
