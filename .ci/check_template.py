#!/usr/bin/env python3
"""Asserts the least-privilege rule of template.yaml: no `connect:` permission on `*`.

Every IAM statement in the template that allows a `connect:` action (or `*`, or a wildcard that
matches connect actions) must name its resources, none of which may be `*`, and each of which must be
built from the ConnectInstanceArn parameter. `NotResource`/`NotAction` on connect are refused, and so
are managed policies or SAM policy templates that grant Connect access.

Usage: check_template.py [template.yaml]   (default: template.yaml)
       check_template.py --self-test      (shows that the check catches what it should)
"""
import fnmatch
import sys

import yaml


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as {"Fn::X": value} / {"Ref": value}."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def as_list(value):
    return value if isinstance(value, list) else [value]


def grants_connect(action):
    return isinstance(action, str) and fnmatch.fnmatchcase("connect:monitorcontact", action.lower())


def from_instance_parameter(resource):
    """True when the resource is (or is built from) the ConnectInstanceArn parameter."""
    return "ConnectInstanceArn" in repr(resource)


def statements(node, path="template"):
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield path, node
        for key, value in node.items():
            yield from statements(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{path}[{index}]")


def problems(template):
    found = []
    for path, statement in statements(template.get("Resources", {}), "Resources"):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append(f"{path}: NotAction can grant connect actions on anything")
            continue
        actions = [a for a in as_list(statement["Action"]) if isinstance(a, str) and a.lower().startswith(("connect:", "*"))]
        actions = [a for a in actions if grants_connect(a) or a.lower().startswith("connect:")]
        if not actions:
            continue
        if "NotResource" in statement:
            found.append(f"{path}: {actions} with NotResource")
        resources = as_list(statement.get("Resource", []))
        if not resources:
            found.append(f"{path}: {actions} without Resource")
        for resource in resources:
            if resource == "*" or (isinstance(resource, str) and resource.startswith("arn:") and resource.endswith(":*")):
                found.append(f"{path}: {actions} on {resource!r}")
            elif not from_instance_parameter(resource):
                found.append(f"{path}: {actions} on {resource!r}, not built from ConnectInstanceArn")
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {}) or {}
        for policy in as_list(properties.get("Policies", [])) + as_list(properties.get("ManagedPolicyArns", [])):
            text = policy if isinstance(policy, str) else " ".join(str(k) for k in policy) if isinstance(policy, dict) else ""
            if "connect" in text.lower():
                found.append(f"Resources.{name}: managed policy or policy template {text!r} grants Connect access")
    return found


def self_test():
    bad = [
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: '*'}]}}]}}}",
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: ['connect:*'], Resource: ['*']}]}}]}}}",
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}}]}}}",
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'connect:MonitorContact'}]}}]}}}",
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, NotAction: 's3:*', Resource: '*'}]}}]}}}",
        "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: 'arn:aws:connect:us-east-1:111122223333:instance/*'}]}]}}}",
        "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [AmazonConnect_FullAccess]}}}",
        "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [!If [C, {Effect: Allow, Action: 'connect:DescribeContact', Resource: '*'}, !Ref AWS::NoValue]]}]}}}",
        "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:GetCurrentUserData', Resource: 'arn:aws:connect:us-east-1:111122223333:instance/i'}]}]}}}",
    ]
    good = [
        "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: [!Ref ConnectInstanceArn, !Sub '${ConnectInstanceArn}/contact/*']}]}]}}}",
        "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'logs:*', Resource: '*'}]}}]}}}",
    ]
    failures = 0
    for text in bad:
        if not problems(yaml.load(text, Loader=CfnLoader)):
            print(f"self-test: NOT caught: {text}")
            failures += 1
    for text in good:
        found = problems(yaml.load(text, Loader=CfnLoader))
        if found:
            print(f"self-test: wrongly flagged: {found}")
            failures += 1
    print(f"template check self-test: {len(bad) + len(good) - failures} passed, {failures} failed")
    return failures == 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return 0 if self_test() else 1
    path = argv[1] if len(argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    found = problems(template)
    connect_statements = sum(
        1 for _, s in statements(template.get("Resources", {})) if any(str(a).lower().startswith("connect:") for a in as_list(s.get("Action", [])))
    )
    for problem in found:
        print(f"least privilege: {problem}")
    if connect_statements == 0:
        print("least privilege: no statement grants connect:MonitorContact: the function could not work")
        return 1
    print(f"least privilege: {connect_statements} connect statement(s), {len(found)} problem(s) in {path}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
