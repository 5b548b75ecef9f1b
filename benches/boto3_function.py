#!/usr/bin/env python3
"""The boto3 function the fault benchmark (`cargo bench --bench faults`) compares this one with.

What a contact-center team would otherwise deploy: a Python Lambda function that starts silent
monitoring from a contact flow's "Invoke AWS Lambda function" block with boto3, the client's standard
retry mode and 3 attempts. It runs as a custom runtime (the Lambda Runtime API loop below, urllib
only), so that the benchmark can start it exactly as it starts the Rust binary.

- Event: a contact-flow event. The contact is Details.ContactData.ContactId, the instance the last
  part of Details.ContactData.InstanceARN, the supervisor Details.Parameters.SupervisorUserId or, when
  the block passes none, DEFAULT_SUPERVISOR_USER_ID.
- Call: MonitorContact(InstanceId, ContactId, UserId, AllowedMonitorCapabilities=['SILENT_MONITOR'],
  ClientToken) with a ClientToken derived from the instance, the contact and the supervisor, so that a
  retry (by boto3, or by Connect calling the function again) cannot start a second monitor.
- Answer: {"status": "STARTED", "ContactId": ..., "ContactArn": ...}; a failure is a Lambda error whose
  errorType is the service's error code (ThrottlingException, InternalServiceException, ...).
- Configuration: the endpoint from AWS_ENDPOINT_URL_CONNECT (botocore honours the service-specific
  endpoint variables), region and credentials from Lambda's environment.

`boto3_function.py --self-test` checks the event handling without a network.
"""

import json
import os
import sys
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions

# Created once per execution environment (during init), as Lambda functions do.
CONNECT = None


def connect_client():
    global CONNECT
    if CONNECT is None:
        config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3})
        CONNECT = boto3.client("connect", config=config)
    return CONNECT


class InvalidEvent(Exception):
    """The event is not a contact-flow event this function can serve."""


def target(event):
    """(instance ID, contact ID, supervisor user ID) from a contact-flow event."""
    details = (event or {}).get("Details") or {}
    contact = details.get("ContactData") or {}
    parameters = details.get("Parameters") or {}
    contact_id = contact.get("ContactId")
    arn = contact.get("InstanceARN") or ""
    instance_id = arn.rsplit("instance/", 1)[-1] if "instance/" in arn else ""
    supervisor = parameters.get("SupervisorUserId") or os.environ.get("DEFAULT_SUPERVISOR_USER_ID")
    if not contact_id or not instance_id:
        raise InvalidEvent("Details.ContactData.ContactId and InstanceARN are required")
    if not supervisor:
        raise InvalidEvent("no supervisor: set SupervisorUserId or DEFAULT_SUPERVISOR_USER_ID")
    return instance_id, contact_id, supervisor


def client_token(instance_id, contact_id, supervisor):
    """Stable for one contact and supervisor: every attempt, and every new invocation, reuses it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"monitor-contact:{instance_id}:{contact_id}:{supervisor}"))


def handler(event, _context=None):
    instance_id, contact_id, supervisor = target(event)
    answer = connect_client().monitor_contact(
        InstanceId=instance_id,
        ContactId=contact_id,
        UserId=supervisor,
        AllowedMonitorCapabilities=["SILENT_MONITOR"],
        ClientToken=client_token(instance_id, contact_id, supervisor),
    )
    return {"status": "STARTED", "ContactId": answer.get("ContactId"), "ContactArn": answer.get("ContactArn")}


def error_document(exc):
    """Lambda's error document; the errorType is the service's error code when there is one."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return {"errorType": error.get("Code") or "ClientError", "errorMessage": error.get("Message") or str(exc)}
    return {"errorType": type(exc).__name__, "errorMessage": str(exc)}


def post(url, document, headers=None):
    data = json.dumps(document).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        response.read()


def main():
    base = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
    try:
        connect_client()
    except Exception as exc:  # init failed: Lambda is told, and the process ends
        post(f"{base}/init/error", error_document(exc), {"Lambda-Runtime-Function-Error-Type": "Runtime.InitError"})
        return 1
    while True:
        # No timeout: an environment waits for its next event as long as Lambda keeps it.
        with urllib.request.urlopen(f"{base}/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            body = response.read()
        try:
            result = handler(json.loads(body))
        except Exception as exc:
            post(
                f"{base}/invocation/{request_id}/error",
                error_document(exc),
                {"Lambda-Runtime-Function-Error-Type": "Unhandled"},
            )
        else:
            post(f"{base}/invocation/{request_id}/response", result)


def self_test():
    arn = "arn:aws:connect:us-east-1:111122223333:instance/9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d"
    event = {"Details": {"ContactData": {"ContactId": "c-1", "InstanceARN": arn}, "Parameters": {}}}
    os.environ["DEFAULT_SUPERVISOR_USER_ID"] = "default-supervisor"
    assert target(event) == ("9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d", "c-1", "default-supervisor")
    event["Details"]["Parameters"]["SupervisorUserId"] = "named"
    assert target(event)[2] == "named"
    assert client_token(*target(event)) == client_token(*target(event)), "stable"
    assert client_token("i", "c-1", "s") != client_token("i", "c-2", "s"), "one per contact"
    for bad in [{}, {"Details": {"ContactData": {"ContactId": "c-1"}}}]:
        try:
            target(bad)
        except InvalidEvent:
            pass
        else:
            raise AssertionError(f"accepted {bad}")
    throttled = botocore.exceptions.ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "MonitorContact"
    )
    assert error_document(throttled) == {"errorType": "ThrottlingException", "errorMessage": "Rate exceeded"}
    assert error_document(InvalidEvent("x"))["errorType"] == "InvalidEvent"
    print("boto3_function.py: self-test passed")
    return 0


if __name__ == "__main__":
    sys.exit(self_test() if sys.argv[1:] == ["--self-test"] else main())
