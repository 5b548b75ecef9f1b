#!/usr/bin/env python3
"""Checks of template.yaml that cfn-lint does not make.

- least privilege: no `connect:` permission on `*`. Every IAM statement that allows a `connect:` action
  (or `*`, or a wildcard that matches connect actions) must name its resources, none of which may be
  `*`, and each of which must be built from the ConnectInstanceArn parameter. `NotResource`/`NotAction`
  on connect are refused, and so are managed policies or SAM policy templates that grant Connect access.
- state table: every AWS::DynamoDB::Table is on-demand, encrypted (SSEEnabled), has point-in-time recovery
  and a TTL attribute, and is kept (DeletionPolicy and UpdateReplacePolicy Retain). Every statement that
  allows a `dynamodb:` action (or `*`) names its actions one by one (no wildcard) and only tables of the
  template as resources (`!GetAtt T.Arn`, or `${T.Arn}/index/...` in a Sub); no DynamoDB policy templates
  or managed policies; a function that contact flows invoke (named by an IntegrationAssociation) has no
  DynamoDB permission at all and no QA_STATE_TABLE variable.
- barge: when the template has an AllowBarge parameter, every function allowed connect:MonitorContact
  also carries a Deny of MonitorContact for requests asking for BARGE (ForAnyValue on the multivalued
  key connect:MonitorCapabilities), unconditional or under a condition that is AllowBarge == "false".
- alarm actions: every AWS::CloudWatch::Alarm notifies an SNS topic of the template in AlarmActions (and
  in OKActions, if it has them), through Fn::If on the topic's condition when the topic is conditional.
- $LATEST: nothing invokes an unqualified function. The Connect integration, Lambda permissions, event
  source mappings, EventBridge targets that are functions and EventInvokeConfig name an alias
  (`!Ref X.Alias` of a function with AutoPublishAlias, or an AWS::Lambda::Alias), never `!GetAtt X.Arn`,
  `!Ref X` or a literal `$LATEST`; SAM functions with Events or EventInvokeConfig have AutoPublishAlias.
- dashboard: every dashboard body is valid JSON once its Fn::Sub variables are substituted with plausible
  values (parameter defaults; each parameter's last allowed value or its maximum; sample values of the
  free-form parameters that their AllowedPattern accepts).
- queues: every SQS queue is encrypted; every dead-letter queue (a RedrivePolicy target, a rule target's
  DeadLetterConfig, an on-failure destination) keeps messages at most 7 days, longer than its source
  queue, and has an alarm on its ApproximateNumberOfMessagesVisible.
- giving records back: sqs:ChangeMessageVisibility (or a wildcard that matches it) is allowed only on
  queues of the template (`!GetAtt Q.Arn`), and never to the function contact flows invoke.
- retry timing: a queue that feeds a function (an event source mapping) has a visibility timeout of at
  least 6 x the function's timeout + the largest batching window (Lambda's advice), and shorter than the
  MaxEventAgeSeconds parameter's default, so that a record that failed on its first receive comes back
  while its event is still young enough to be retried rather than dead-lettered.

Usage: check_template.py [template.yaml]   (default: template.yaml)
       check_template.py --self-test      (shows that each check catches what it should)
"""
import fnmatch
import json
import re
import sys

import yaml


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as {"Fn::X": value} / {"Ref": value}."""


def managed_policies_granting(template, service, shown):
    """Managed policies and SAM policy templates whose name mentions `service`: access nobody scoped."""
    found = []
    for name, resource in resources(template).items():
        properties = props(resource)
        for policy in as_list(properties.get("Policies", [])) + as_list(properties.get("ManagedPolicyArns", [])):
            text = policy if isinstance(policy, str) else " ".join(str(k) for k in policy) if isinstance(policy, dict) else ""
            if service in text.lower():
                found.append(f"Resources.{name}: managed policy or policy template {text!r} grants {shown} access")
    return found


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


def statement_resources(statement, path, actions, found):
    """The statement's Resource list; a NotResource, or no Resource at all, is a problem in `found`."""
    if "NotResource" in statement:
        found.append(f"{path}: {actions} with NotResource")
    resource_list = as_list(statement.get("Resource", []))
    if not resource_list:
        found.append(f"{path}: {actions} without Resource")
    return resource_list


def resources(template):
    return template.get("Resources", {}) or {}


def of_type(template, *types):
    return {name: r for name, r in resources(template).items() if isinstance(r, dict) and r.get("Type") in types}


def props(resource):
    return (resource or {}).get("Properties", {}) or {}


def is_no_value(node):
    return node == {"Ref": "AWS::NoValue"}


def branches(node):
    """The values a node can take: both branches of every Fn::If (AWS::NoValue left out)."""
    if isinstance(node, dict) and list(node) == ["Fn::If"] and isinstance(node["Fn::If"], list) and len(node["Fn::If"]) == 3:
        for branch in node["Fn::If"][1:]:
            yield from branches(branch)
    elif not is_no_value(node):
        yield node


def statements(node, path="template"):
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield path, node
        for key, value in node.items():
            yield from statements(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from statements(value, f"{path}[{index}]")


# --- least privilege --------------------------------------------------------------------------------


def grants_connect(action):
    return isinstance(action, str) and fnmatch.fnmatchcase("connect:monitorcontact", action.lower())


def from_instance_parameter(resource):
    """True when the resource is (or is built from) the ConnectInstanceArn parameter."""
    return "ConnectInstanceArn" in repr(resource)


def problems(template):
    found = []
    for path, statement in statements(resources(template), "Resources"):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append(f"{path}: NotAction can grant connect actions on anything")
            continue
        actions = [a for a in as_list(statement["Action"]) if isinstance(a, str) and a.lower().startswith(("connect:", "*"))]
        actions = [a for a in actions if grants_connect(a) or a.lower().startswith("connect:")]
        if not actions:
            continue
        resource_list = statement_resources(statement, path, actions, found)
        for resource in resource_list:
            if resource == "*" or (isinstance(resource, str) and resource.startswith("arn:") and resource.endswith(":*")):
                found.append(f"{path}: {actions} on {resource!r}")
            elif not from_instance_parameter(resource):
                found.append(f"{path}: {actions} on {resource!r}, not built from ConnectInstanceArn")
    found += managed_policies_granting(template, "connect", "Connect")
    return found


# --- state table ------------------------------------------------------------------------------------


def grants_dynamodb(action):
    """True when an action (or a wildcard, `*` included) allows some dynamodb: action."""
    return isinstance(action, str) and (
        action.lower().startswith("dynamodb:") or fnmatch.fnmatchcase("dynamodb:putitem", action.lower())
    )


def names_arn_of(resource, logical_ids):
    """True when the resource is the ARN of one of `logical_ids` (!GetAtt T.Arn), or of a table's index (a Sub of
    ${T.Arn}/index/...)."""
    if isinstance(resource, dict) and list(resource) == ["Fn::GetAtt"]:
        target = as_list(resource["Fn::GetAtt"])
        target = target[0].split(".") if len(target) == 1 else target
        return len(target) == 2 and target[0] in logical_ids and target[1] == "Arn"
    if isinstance(resource, dict) and list(resource) == ["Fn::Sub"] and isinstance(resource["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}(/index/[A-Za-z0-9_.*-]+)?", resource["Fn::Sub"])
        return bool(match) and match.group(1) in logical_ids
    return False


def table_problems(template):
    """The table's own settings: on-demand, encrypted, recoverable, expiring, kept."""
    found = []
    for name, table in of_type(template, "AWS::DynamoDB::Table").items():
        properties = props(table)
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if table.get(policy) != "Retain":
                found.append(f"Resources.{name}: {policy} is not Retain (the record would be lost with the stack)")
        if properties.get("BillingMode") != "PAY_PER_REQUEST":
            found.append(f"Resources.{name}: BillingMode is not PAY_PER_REQUEST (on-demand)")
        if (properties.get("SSESpecification") or {}).get("SSEEnabled") is not True:
            found.append(f"Resources.{name}: SSESpecification.SSEEnabled is not true")
        if (properties.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled") is not True:
            found.append(f"Resources.{name}: no point-in-time recovery")
        ttl = properties.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled") is not True or not ttl.get("AttributeName"):
            found.append(f"Resources.{name}: no TTL attribute (TimeToLiveSpecification)")
    return found


def function_policy_nodes(template, function):
    """The policies of a SAM function, and of the role it names (Role: !GetAtt R.Arn), if any."""
    properties = props(function)
    nodes = [properties.get("Policies", [])]
    role = named(properties.get("Role"))
    if role in resources(template):
        nodes.append(props(resources(template)[role]).get("Policies", []))
    return nodes


def statements_granting(template, grants):
    """Every Allow statement of the template with the actions `grants` matches: (path, statement, actions)."""
    for path, statement in statements(resources(template), "Resources"):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a for a in as_list(statement.get("Action", [])) if grants(a)]
        if actions:
            yield path, statement, actions


def flow_functions(template):
    """The functions contact flows invoke (named by an IntegrationAssociation): (logical ID, definition)."""
    functions = of_type(template, "AWS::Serverless::Function", "AWS::Lambda::Function")
    for association in of_type(template, "AWS::Connect::IntegrationAssociation").values():
        function = named(props(association).get("IntegrationArn"))
        if function in functions:
            yield function, functions[function]


def allowed_statements(template, function, definition):
    """The Allow statements of a function's policies and of the role it names: (path, statement)."""
    for node in function_policy_nodes(template, definition):
        for path, statement in statements(node, f"Resources.{function}.Policies"):
            if statement.get("Effect") == "Allow":
                yield path, statement


def dynamodb_problems(template):
    tables = of_type(template, "AWS::DynamoDB::Table")
    found = table_problems(template)
    for path, statement, actions in statements_granting(template, grants_dynamodb):
        for action in actions:
            if any(c in action for c in "*?"):
                found.append(f"{path}: {action!r} is a wildcard: name the DynamoDB actions the code makes")
        resource_list = statement_resources(statement, path, actions, found)
        for resource in resource_list:
            if not names_arn_of(resource, tables):
                found.append(f"{path}: {actions} on {resource!r}, not a table of the template")
    found += managed_policies_granting(template, "dynamodb", "DynamoDB")
    for function, definition in flow_functions(template):
        for path, statement in allowed_statements(template, function, definition):
            if any(grants_dynamodb(a) for a in as_list(statement.get("Action", []))):
                found.append(f"{path}: the function contact flows invoke is allowed DynamoDB actions")
        variables = ((props(definition).get("Environment") or {}).get("Variables") or {})
        if "QA_STATE_TABLE" in variables:
            found.append(f"Resources.{function}: the function contact flows invoke is given QA_STATE_TABLE")
    return found


# --- giving records back early -----------------------------------------------------------------------


def grants_change_visibility(action):
    """True when an action (or a wildcard, `*` included) allows sqs:ChangeMessageVisibility."""
    return isinstance(action, str) and fnmatch.fnmatchcase("sqs:changemessagevisibility", action.lower())


def requeue_problems(template):
    """sqs:ChangeMessageVisibility only on queues of the template, by name, and never for the function
    contact flows invoke (it has no queue to give records back to)."""
    queues = of_type(template, "AWS::SQS::Queue")
    found = []
    for path, statement, actions in statements_granting(template, grants_change_visibility):
        for resource in statement_resources(statement, path, actions, found):
            if not names_arn_of(resource, queues):
                found.append(f"{path}: {actions} on {resource!r}, not a queue of the template")
    for function, definition in flow_functions(template):
        for path, statement in allowed_statements(template, function, definition):
            if any(grants_change_visibility(a) for a in as_list(statement.get("Action", []))):
                found.append(f"{path}: the function contact flows invoke may change SQS visibility")
    return found


# --- barge ------------------------------------------------------------------------------------------


def is_allow_barge_false(template, condition_name):
    """True when the named condition is Fn::Equals of Ref AllowBarge and "false" (either order)."""
    condition = (template.get("Conditions", {}) or {}).get(condition_name)
    if not (isinstance(condition, dict) and isinstance(condition.get("Fn::Equals"), list)):
        return False
    operands = condition["Fn::Equals"]
    return len(operands) == 2 and {"Ref": "AllowBarge"} in operands and "false" in operands


def denies_barge(statement):
    if statement.get("Effect") != "Deny":
        return False
    if not any(isinstance(a, str) and fnmatch.fnmatchcase("connect:monitorcontact", a.lower()) for a in as_list(statement.get("Action", []))):
        return False
    condition = statement.get("Condition", {}) or {}
    for operator, keys in condition.items():
        if operator not in ("ForAnyValue:StringEquals", "ForAnyValue:StringLike") or not isinstance(keys, dict):
            continue
        for key, values in keys.items():
            if key.lower() == "connect:monitorcapabilities" and "BARGE" in as_list(values):
                return True
    return False


def policy_statements(node, template, under_condition=None):
    """(statement, condition name or None) for each statement in the node, through Fn::If."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"] and isinstance(node["Fn::If"], list) and len(node["Fn::If"]) == 3:
            name, when_true, when_false = node["Fn::If"]
            yield from policy_statements(when_true, template, name)
            yield from policy_statements(when_false, template, ("not", name))
            return
        if "Effect" in node:
            yield node, under_condition
            return
        for value in node.values():
            yield from policy_statements(value, template, under_condition)
    elif isinstance(node, list):
        for value in node:
            yield from policy_statements(value, template, under_condition)


def barge_problems(template):
    if "AllowBarge" not in (template.get("Parameters", {}) or {}):
        return []
    found = []
    for name, resource in of_type(template, "AWS::Serverless::Function", "AWS::IAM::Role", "AWS::IAM::Policy").items():
        found_statements = list(policy_statements(props(resource).get("Policies", props(resource).get("PolicyDocument", [])), template))
        allows_monitor = any(
            s.get("Effect") == "Allow" and any(grants_connect(a) for a in as_list(s.get("Action", []))) for s, _ in found_statements
        )
        if not allows_monitor:
            continue
        deny_ok = False
        for statement, condition in found_statements:
            if not denies_barge(statement):
                if statement.get("Effect") == "Deny" and "MonitorCapabilities" in repr(statement.get("Condition")):
                    found.append(
                        f"Resources.{name}: a barge Deny must use ForAnyValue:StringEquals on connect:MonitorCapabilities "
                        "(the key is multivalued; ForAllValues or a single-valued operator does not match [SILENT_MONITOR, BARGE])"
                    )
                continue
            if condition is None or (isinstance(condition, str) and is_allow_barge_false(template, condition)):
                deny_ok = True
            else:
                found.append(f"Resources.{name}: the barge Deny is under condition {condition!r}, not AllowBarge == \"false\"")
        if not deny_ok:
            found.append(f"Resources.{name}: allows connect:MonitorContact but has no Deny of BARGE for AllowBarge=false")
    return found


# --- alarm actions ----------------------------------------------------------------------------------


def topic_refs(node):
    return [item["Ref"] for item in as_list(node) if isinstance(item, dict) and list(item) == ["Ref"]]


def alarm_action_problems(template):
    topics = {name: r.get("Condition") for name, r in of_type(template, "AWS::SNS::Topic").items()}
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    if alarms and not topics:
        return ["the template has alarms but no SNS topic: nobody is notified"]
    found = []
    for name, alarm in alarms.items():
        properties = props(alarm)
        for key in ("AlarmActions", "OKActions"):
            if key not in properties:
                if key == "AlarmActions":
                    found.append(f"Resources.{name}: no AlarmActions")
                continue
            value = properties[key]
            if isinstance(value, dict) and "Fn::If" in value:
                condition, when_true, _ = value["Fn::If"]
                named = [t for t in topic_refs(when_true) if t in topics]
                if not named:
                    found.append(f"Resources.{name}: {key} does not name an SNS topic of the template")
                for topic in named:
                    if topics[topic] not in (None, condition):
                        found.append(f"Resources.{name}: {key} names {topic} under {condition!r}, the topic's condition is {topics[topic]!r}")
            else:
                named = [t for t in topic_refs(value) if t in topics]
                if not named:
                    found.append(f"Resources.{name}: {key} does not name an SNS topic of the template")
                for topic in named:
                    if topics[topic] is not None:
                        found.append(f"Resources.{name}: {key} names {topic} unconditionally, the topic exists only under {topics[topic]!r}")
    return found


# --- $LATEST ----------------------------------------------------------------------------------------

QUALIFIED_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+:([^:]+)$")


def alias_reference_problem(template, node):
    """None when the node names a function alias (or something that is not a function at all)."""
    functions = of_type(template, "AWS::Serverless::Function", "AWS::Lambda::Function")
    aliases = of_type(template, "AWS::Lambda::Alias")
    if isinstance(node, dict) and list(node) == ["Ref"]:
        target = node["Ref"]
        base, _, suffix = target.partition(".")
        if suffix == "Alias" and base in functions:
            if not props(functions[base]).get("AutoPublishAlias"):
                return f"!Ref {target}, but {base} has no AutoPublishAlias"
            return None
        if target in aliases:
            return None
        if target in functions:
            return f"!Ref {target} is the unqualified function ($LATEST)"
        return None
    if isinstance(node, dict) and list(node) == ["Fn::GetAtt"]:
        target = as_list(node["Fn::GetAtt"])[0]
        if target in functions:
            return f"!GetAtt {'.'.join(as_list(node['Fn::GetAtt']))} is the unqualified function ($LATEST)"
        return None
    text = json.dumps(node)
    if "$LATEST" in text:
        return f"{text} names $LATEST"
    if isinstance(node, str) and ":function:" in node:
        match = QUALIFIED_FUNCTION_ARN.match(node)
        if not match:
            return f"{node!r} is an unqualified function ARN ($LATEST)"
        return None
    if any(name in text for name in functions):
        return f"{text} is built from a function, not from its alias"
    return None


def latest_problems(template):
    found = []
    functions = of_type(template, "AWS::Serverless::Function", "AWS::Lambda::Function")

    def check(where, node):
        for value in branches(node):
            problem = alias_reference_problem(template, value)
            if problem:
                found.append(f"{where}: {problem}")

    for name, r in of_type(template, "AWS::Connect::IntegrationAssociation").items():
        if props(r).get("IntegrationType", "LAMBDA_FUNCTION") == "LAMBDA_FUNCTION":
            check(f"Resources.{name}.IntegrationArn", props(r).get("IntegrationArn"))
    for name, r in of_type(template, "AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping").items():
        check(f"Resources.{name}.FunctionName", props(r).get("FunctionName"))
    for name, r in of_type(template, "AWS::Lambda::EventInvokeConfig").items():
        if props(r).get("Qualifier") in ("$LATEST", None):
            found.append(f"Resources.{name}.Qualifier: $LATEST")
    for name, r in of_type(template, "AWS::Events::Rule", "AWS::Scheduler::Schedule").items():
        targets = props(r).get("Targets", [props(r).get("Target")] if props(r).get("Target") else [])
        for index, target in enumerate(as_list(targets)):
            if not isinstance(target, dict):
                continue
            arn = target.get("Arn")
            text = json.dumps(arn)
            if any(f'"{f}"' in text or f'"{f}.' in text for f in functions) or ":function:" in text:
                check(f"Resources.{name}.Targets[{index}].Arn", arn)
    for name, r in of_type(template, "AWS::Serverless::Function").items():
        properties = props(r)
        if properties.get("AutoPublishAlias"):
            continue
        if properties.get("Events"):
            found.append(f"Resources.{name}: Events without AutoPublishAlias invoke $LATEST")
        if properties.get("EventInvokeConfig"):
            found.append(f"Resources.{name}: EventInvokeConfig without AutoPublishAlias configures $LATEST")
    return found


# --- dashboard --------------------------------------------------------------------------------------

PSEUDO = {
    "AWS::AccountId": "111122223333",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "monitor-contact-prod",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/monitor-contact-prod/0f0e0d0c",
    "AWS::NotificationARNs": "",
}


# Other plausible values of free-form parameters, used only where they satisfy the AllowedPattern.
SAMPLES = {
    "ConnectCallsPerSecond": "0.25",
    "AccountConnectQuota": "12.5",
    "MetricsNamespace": "Contact/Center-QA",
    "AlarmEmail": "ops@example.com",
    "QaRules": '[{"name": "everyone", "percent": 5}]',
    "SupervisorPoolUserIds": "a1a1a1a1-0000-4000-8000-00000000000a,b2b2b2b2-0000-4000-8000-00000000000b",
}
PICKS = ("default", "last", "samples")


def parameter_values(template, pick):
    """A value for every parameter: pick "default" (or the first allowed), "last" (last allowed, max) or
    "samples" (the defaults with SAMPLES where the parameter's AllowedPattern takes them)."""
    values = {}
    for name, parameter in (template.get("Parameters", {}) or {}).items():
        allowed = parameter.get("AllowedValues")
        pattern = parameter.get("AllowedPattern")
        if pick == "samples" and name in SAMPLES and (pattern is None or re.fullmatch(pattern, SAMPLES[name])):
            value = SAMPLES[name]
        elif pick == "last" and allowed:
            value = allowed[-1]
        elif pick == "last" and "MaxValue" in parameter:
            value = parameter["MaxValue"]
        elif "Default" in parameter:
            value = parameter["Default"]
        elif allowed:
            value = allowed[0]
        elif name == "ConnectInstanceArn":
            value = "arn:aws:connect:us-east-1:111122223333:instance/9e7c1b52-3d4f-4a6b-8c2d-1e0f3a5b7c9d"
        else:
            value = "1" if parameter.get("Type") == "Number" else "example"
        values[name] = str(value)
    return values


def plausible(template, name, values):
    """The text a ${name} of Fn::Sub becomes in a deployed stack, or None for an unknown name."""
    if name in PSEUDO:
        return PSEUDO[name]
    if name in values:
        return values[name]
    base, _, attribute = name.partition(".")
    if base not in resources(template):
        return None
    physical = f"monitor-contact-prod-{base}-1A2B3C4D5E6F"
    kind = resources(template)[base].get("Type", "")
    if attribute in ("", "QueueName", "Name", "TopicName") and kind != "AWS::SQS::Queue":
        return physical
    if kind == "AWS::SQS::Queue":
        return {"": f"https://sqs.us-east-1.amazonaws.com/111122223333/{physical}", "QueueName": physical}.get(
            attribute, f"arn:aws:sqs:us-east-1:111122223333:{physical}"
        )
    if attribute == "Alias":
        return f"arn:aws:lambda:us-east-1:111122223333:function:{physical}:live"
    if attribute == "Version":
        return f"arn:aws:lambda:us-east-1:111122223333:function:{physical}:7"
    return f"arn:aws:service:us-east-1:111122223333:{physical}"


def substitute(template, sub, values):
    """(text, unknown names) of an Fn::Sub value."""
    if isinstance(sub, list):
        text, variables = sub[0], sub[1] if len(sub) > 1 else {}
    else:
        text, variables = sub, {}
    unknown = []

    def replace(match):
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            value = variables[name]
            return value if isinstance(value, str) else plausible(template, "AWS::StackName", values)
        value = plausible(template, name, values)
        if value is None:
            unknown.append(name)
            return ""
        return value

    return re.sub(r"\$\{([^}]*)\}", replace, text), unknown


def dashboard_problems(template):
    found = []
    for name, r in of_type(template, "AWS::CloudWatch::Dashboard").items():
        body = props(r).get("DashboardBody")
        for pick in PICKS:
            values = parameter_values(template, pick)
            if isinstance(body, str):
                text, unknown = body, []
            elif isinstance(body, dict) and "Fn::Sub" in body:
                text, unknown = substitute(template, body["Fn::Sub"], values)
            else:
                found.append(f"Resources.{name}.DashboardBody: not a string or Fn::Sub, cannot be checked")
                break
            for variable in unknown:
                found.append(f"Resources.{name}.DashboardBody: ${{{variable}}} is no parameter, resource or pseudo parameter")
            try:
                document = json.loads(text)
            except json.JSONDecodeError as error:
                line = text.splitlines()[error.lineno - 1] if error.lineno <= len(text.splitlines()) else ""
                found.append(f"Resources.{name}.DashboardBody ({pick} values): not JSON: {error.msg} at line {error.lineno}: {line.strip()[:120]}")
                continue
            if not isinstance(document, dict) or not isinstance(document.get("widgets"), list):
                found.append(f"Resources.{name}.DashboardBody: no widgets array")
                continue
            for index, widget in enumerate(document["widgets"]):
                if not isinstance(widget, dict) or "type" not in widget or "properties" not in widget:
                    found.append(f"Resources.{name}.DashboardBody: widget {index} lacks type or properties")
                elif widget["type"] == "metric" and "region" not in widget["properties"]:
                    found.append(f"Resources.{name}.DashboardBody: metric widget {index} has no region")
    return found


# --- queues -----------------------------------------------------------------------------------------

SQS_DEFAULT_RETENTION = 345600
SEVEN_DAYS = 604800


def queue_of(node, queues):
    """The logical ID of a queue of the template a node names (Ref or GetAtt), else None."""
    for value in branches(node):
        if isinstance(value, dict) and list(value) == ["Fn::GetAtt"] and as_list(value["Fn::GetAtt"])[0] in queues:
            return as_list(value["Fn::GetAtt"])[0]
        if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in queues:
            return value["Ref"]
    return None


def dead_letter_queues(template):
    """{dead-letter queue: [source queue or None, ...]} for every way the template sends dead letters."""
    queues = of_type(template, "AWS::SQS::Queue")
    found = {}
    for name, q in queues.items():
        redrive = props(q).get("RedrivePolicy") or {}
        target = queue_of(redrive.get("deadLetterTargetArn"), queues) if isinstance(redrive, dict) else None
        if target:
            found.setdefault(target, []).append(name)
    for r in of_type(template, "AWS::Events::Rule").values():
        for target in as_list(props(r).get("Targets", [])):
            dlq = queue_of(((target or {}).get("DeadLetterConfig") or {}).get("Arn"), queues)
            if dlq:
                found.setdefault(dlq, []).append(None)
    for r in of_type(template, "AWS::Serverless::Function", "AWS::Lambda::EventInvokeConfig").values():
        config = props(r).get("EventInvokeConfig", props(r)) or {}
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        dlq = queue_of(destination, queues)
        if dlq:
            found.setdefault(dlq, []).append(None)
        dlq = queue_of(((props(r).get("DeadLetterQueue") or {}).get("TargetArn")), queues)
        if dlq:
            found.setdefault(dlq, []).append(None)
    return found


def has_depth_alarm(template, queue):
    for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
        properties = props(alarm)
        metrics = [properties] + [((m or {}).get("MetricStat") or {}).get("Metric", {}) for m in properties.get("Metrics", [])]
        for metric in metrics:
            if metric.get("Namespace") != "AWS/SQS" or metric.get("MetricName") != "ApproximateNumberOfMessagesVisible":
                continue
            for dimension in metric.get("Dimensions", []) or []:
                if dimension.get("Name") == "QueueName" and dimension.get("Value") == {"Fn::GetAtt": [queue, "QueueName"]}:
                    return True
    return False


def retention(queue):
    value = props(queue).get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def queue_problems(template):
    queues = of_type(template, "AWS::SQS::Queue")
    found = []
    for name, q in queues.items():
        properties = props(q)
        if properties.get("SqsManagedSseEnabled") is not True and not properties.get("KmsMasterKeyId"):
            found.append(f"Resources.{name}: not encrypted (SqsManagedSseEnabled: true or KmsMasterKeyId)")
    for dlq, sources in dead_letter_queues(template).items():
        if not has_depth_alarm(template, dlq):
            found.append(f"Resources.{dlq}: a dead-letter queue without an alarm on ApproximateNumberOfMessagesVisible")
        kept = retention(queues[dlq])
        if kept is not None and kept > SEVEN_DAYS:
            found.append(f"Resources.{dlq}: dead-letter retention {kept} s is more than 7 days")
        for source in filter(None, sources):
            source_kept = retention(queues[source])
            if kept is not None and source_kept is not None and source_kept >= kept:
                found.append(
                    f"Resources.{source}: retention {source_kept} s is not shorter than its dead-letter queue's ({kept} s): "
                    "SQS keeps the first enqueue time, so dead letters would expire on arrival"
                )
    return found


def number(template, node, pick):
    """A literal number, or `pick` (e.g. "Default", "MaxValue") of the parameter a !Ref names."""
    if isinstance(node, dict) and list(node) == ["Ref"]:
        node = ((template.get("Parameters") or {}).get(node["Ref"]) or {}).get(pick)
    return int(node) if isinstance(node, (int, str)) and str(node).isdigit() else None


def named(node):
    """The resource a !Ref X, !Ref X.Alias or !GetAtt X.Arn names."""
    if isinstance(node, dict) and list(node) == ["Ref"]:
        return str(node["Ref"]).split(".")[0]
    if isinstance(node, dict) and list(node) == ["Fn::GetAtt"]:
        return str(as_list(node["Fn::GetAtt"])[0]).split(".")[0]
    return None


def retry_timing_problems(template):
    queues = of_type(template, "AWS::SQS::Queue")
    functions = of_type(template, "AWS::Serverless::Function", "AWS::Lambda::Function")
    global_timeout = (((template.get("Globals") or {}).get("Function")) or {}).get("Timeout", 3)
    max_age = number(template, {"Ref": "MaxEventAgeSeconds"}, "Default")
    found = []
    for name, mapping in of_type(template, "AWS::Lambda::EventSourceMapping").items():
        properties = props(mapping)
        queue, function = named(properties.get("EventSourceArn")), named(properties.get("FunctionName"))
        if queue not in queues or function not in functions:
            continue
        timeout = number(template, props(functions[function]).get("Timeout", global_timeout), "MaxValue")
        window = number(template, properties.get("MaximumBatchingWindowInSeconds", 0), "MaxValue")
        # A visibility timeout given as a parameter is checked at both ends of its range.
        configured = props(queues[queue]).get("VisibilityTimeout", 30)
        shortest, longest = number(template, configured, "MinValue"), number(template, configured, "MaxValue")
        if None in (timeout, window, shortest, longest):
            found.append(f"Resources.{name}: the timeout, batching window or visibility timeout is not a number it can check")
            continue
        if shortest < 6 * timeout + window:
            found.append(
                f"Resources.{queue}: visibility timeout {shortest} s is less than 6 x {function}'s {timeout} s timeout + the {window} s batching window"
            )
        if max_age and longest >= max_age:
            found.append(
                f"Resources.{queue}: visibility timeout {longest} s is not shorter than MaxEventAgeSeconds ({max_age} s): a failed record would never be retried, only dead-lettered"
            )
    return found


CHECKS = [
    ("least privilege", problems),
    ("state table", dynamodb_problems),
    ("giving records back", requeue_problems),
    ("barge", barge_problems),
    ("alarm actions", alarm_action_problems),
    ("$LATEST", latest_problems),
    ("dashboard", dashboard_problems),
    ("queues", queue_problems),
    ("retry timing", retry_timing_problems),
]

# --- self-test --------------------------------------------------------------------------------------

FUNCTION = "{Type: AWS::Serverless::Function, Properties: {AutoPublishAlias: live}}"
ALARM_ON_DLQ = (
    "A: {Type: AWS::CloudWatch::Alarm, Properties: {Namespace: AWS/SQS, MetricName: ApproximateNumberOfMessagesVisible, "
    "Dimensions: [{Name: QueueName, Value: !GetAtt D.QueueName}], AlarmActions: [!Ref T]}}"
)
TOPIC = "T: {Type: AWS::SNS::Topic}"
TABLE = (
    "{Type: AWS::DynamoDB::Table, DeletionPolicy: Retain, UpdateReplacePolicy: Retain, Properties: {BillingMode: PAY_PER_REQUEST, "
    "SSESpecification: {SSEEnabled: true}, PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}, "
    "TimeToLiveSpecification: {AttributeName: expires, Enabled: true}}}"
)
FUNCTION_WITH = "{Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: '%s', Resource: !GetAtt T.Arn}]}]}}"
BARGE = """
Parameters: {AllowBarge: {Type: String}}
Conditions: {NoBarge: !Equals [!Ref AllowBarge, "false"], Other: !Equals [!Ref AllowBarge, "true"]}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - {Effect: Allow, Action: connect:MonitorContact, Resource: !Ref ConnectInstanceArn}
            %s
"""
DENY = "{Effect: Deny, Action: connect:MonitorContact, Resource: '*', Condition: {%s: {connect:MonitorCapabilities: BARGE}}}"
DASHBOARD = """
Parameters: {Rate: {Type: String, Default: "1"}, Ns: {Type: String, Default: MonitorContact}}
Resources:
  Q: {Type: AWS::SQS::Queue}
  D:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardBody: !Sub |
        %s
"""

RETRY_TIMING = """
Parameters: {W: {Type: Number, MaxValue: 30}, MaxEventAgeSeconds: {Type: Number, Default: AGE}}
Resources:
  Q: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: VISIBILITY}}
  F: {Type: AWS::Serverless::Function, Properties: {Timeout: TIMEOUT}}
  M: {Type: AWS::Lambda::EventSourceMapping, Properties: {EventSourceArn: !GetAtt Q.Arn, FunctionName: !Ref F.Alias, MaximumBatchingWindowInSeconds: !Ref W}}
"""


def retry_timing(visibility, timeout, age):
    return RETRY_TIMING.replace("VISIBILITY", str(visibility)).replace("TIMEOUT", str(timeout)).replace("AGE", str(age))

SELF_TEST = [
    # least privilege: caught
    (problems, True, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: '*'}]}}]}}}"),
    (problems, True, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: ['connect:*'], Resource: ['*']}]}}]}}}"),
    (problems, True, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}}]}}}"),
    (problems, True, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'connect:MonitorContact'}]}}]}}}"),
    (problems, True, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, NotAction: 's3:*', Resource: '*'}]}}]}}}"),
    (problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: 'arn:aws:connect:us-east-1:111122223333:instance/*'}]}]}}}"),
    (problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [AmazonConnect_FullAccess]}}}"),
    (problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [!If [C, {Effect: Allow, Action: 'connect:DescribeContact', Resource: '*'}, !Ref AWS::NoValue]]}]}}}"),
    (problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:GetCurrentUserData', Resource: 'arn:aws:connect:us-east-1:111122223333:instance/i'}]}]}}}"),
    # least privilege: passes
    (problems, False, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'connect:MonitorContact', Resource: [!Ref ConnectInstanceArn, !Sub '${ConnectInstanceArn}/contact/*']}]}]}}}"),
    (problems, False, "Resources: {R: {Type: AWS::IAM::Role, Properties: {Policies: [{PolicyDocument: {Statement: [{Effect: Allow, Action: 'logs:*', Resource: '*'}]}}]}}}"),
    (problems, False, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Deny, Action: 'connect:MonitorContact', Resource: '*'}]}]}}}"),
    # state table: caught
    # giving records back: caught
    (requeue_problems, True, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: sqs:ChangeMessageVisibility, Resource: '*'}]}]}}}"),
    (requeue_problems, True, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: 'sqs:*', Resource: 'arn:aws:sqs:us-east-1:111122223333:other'}]}]}}}"),
    (requeue_problems, True, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: sqs:ChangeMessageVisibility}]}]}}}"),
    (requeue_problems, True, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: sqs:ChangeMessageVisibility, Resource: !GetAtt Q.Arn}]}]}}, C: {Type: AWS::Connect::IntegrationAssociation, Properties: {IntegrationArn: !Ref F.Alias}}}"),
    # giving records back: passes
    (requeue_problems, False, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: sqs:ChangeMessageVisibility, Resource: !GetAtt Q.Arn}]}]}}}"),
    (requeue_problems, False, "Resources: {Q: {Type: AWS::SQS::Queue}, F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: sqs:SendMessage, Resource: '*'}]}]}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {FUNCTION_WITH % 'dynamodb:*'}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Policies: [{{Statement: [{{Effect: Allow, Action: dynamodb:PutItem, Resource: '*'}}]}}]}}}}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Policies: [{{Statement: [{{Effect: Allow, Action: dynamodb:PutItem, Resource: 'arn:aws:dynamodb:us-east-1:111122223333:table/other'}}]}}]}}}}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Policies: [{{Statement: [{{Effect: Allow, Action: '*', Resource: '*'}}]}}]}}}}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Policies: [{{DynamoDBCrudPolicy: {{TableName: !Ref T}}}}]}}}}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {FUNCTION_WITH % 'dynamodb:BatchGetItem'}, C: {{Type: AWS::Connect::IntegrationAssociation, Properties: {{IntegrationArn: !Ref F.Alias}}}}}}"),
    (dynamodb_problems, True, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Environment: {{Variables: {{QA_STATE_TABLE: !Ref T}}}}}}}}, C: {{Type: AWS::Connect::IntegrationAssociation, Properties: {{IntegrationArn: !Ref F.Alias}}}}}}"),
    (dynamodb_problems, True, "Resources: {T: {Type: AWS::DynamoDB::Table, Properties: {BillingMode: PAY_PER_REQUEST}}}"),
    (dynamodb_problems, True, "Resources: {T: " + TABLE.replace("DeletionPolicy: Retain", "DeletionPolicy: Delete") + "}"),
    (dynamodb_problems, True, "Resources: {T: " + TABLE.replace("SSEEnabled: true", "SSEEnabled: false") + "}"),
    # state table: passes
    (dynamodb_problems, False, f"Resources: {{T: {TABLE}, F: {FUNCTION_WITH % 'dynamodb:BatchGetItem'}}}"),
    (dynamodb_problems, False, f"Resources: {{T: {TABLE}, F: {{Type: AWS::Serverless::Function, Properties: {{Policies: [{{Statement: [{{Effect: Allow, Action: [dynamodb:PutItem, dynamodb:UpdateItem], Resource: [!GetAtt T.Arn, !Sub '${{T.Arn}}/index/byAgent']}}]}}]}}}}, G: {{Type: AWS::Serverless::Function, Properties: {{}}}}, C: {{Type: AWS::Connect::IntegrationAssociation, Properties: {{IntegrationArn: !Ref G.Alias}}}}}}"),
    # barge: caught
    (barge_problems, True, BARGE % ""),
    (barge_problems, True, BARGE % ("- " + DENY % "ForAllValues:StringEquals")),
    (barge_problems, True, BARGE % ("- " + DENY % "StringEquals")),
    (barge_problems, True, BARGE % ("- !If [Other, " + DENY % "ForAnyValue:StringEquals" + ", !Ref AWS::NoValue]")),
    # barge: passes
    (barge_problems, False, BARGE % ("- !If [NoBarge, " + DENY % "ForAnyValue:StringEquals" + ", !Ref AWS::NoValue]")),
    (barge_problems, False, BARGE % ("- " + DENY % "ForAnyValue:StringEquals")),
    (barge_problems, False, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Policies: [{Statement: [{Effect: Allow, Action: connect:MonitorContact, Resource: x}]}]}}}"),
    # alarm actions: caught
    (alarm_action_problems, True, "Resources: {A: {Type: AWS::CloudWatch::Alarm, Properties: {}}}"),
    (alarm_action_problems, True, f"Resources: {{{TOPIC}, A: {{Type: AWS::CloudWatch::Alarm, Properties: {{}}}}}}"),
    (alarm_action_problems, True, f"Resources: {{{TOPIC}, A: {{Type: AWS::CloudWatch::Alarm, Properties: {{AlarmActions: [arn:aws:sns:us-east-1:111122223333:other]}}}}}}"),
    (alarm_action_problems, True, "Resources: {T: {Type: AWS::SNS::Topic, Condition: Mail}, A: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmActions: [!Ref T]}}}"),
    (alarm_action_problems, True, "Resources: {T: {Type: AWS::SNS::Topic, Condition: Mail}, A: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmActions: !If [Other, [!Ref T], !Ref AWS::NoValue]}}}"),
    (alarm_action_problems, True, f"Resources: {{{TOPIC}, A: {{Type: AWS::CloudWatch::Alarm, Properties: {{AlarmActions: [!Ref T], OKActions: []}}}}}}"),
    # alarm actions: passes
    (alarm_action_problems, False, "Resources: {T: {Type: AWS::SNS::Topic, Condition: Mail}, A: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmActions: !If [Mail, [!Ref T], !Ref AWS::NoValue], OKActions: !If [Mail, [!Ref T], !Ref AWS::NoValue]}}}"),
    (alarm_action_problems, False, f"Resources: {{{TOPIC}, A: {{Type: AWS::CloudWatch::Alarm, Properties: {{AlarmActions: [!Ref T]}}}}}}"),
    # $LATEST: caught
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, P: {{Type: AWS::Lambda::Permission, Properties: {{FunctionName: !GetAtt F.Arn}}}}}}"),
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, P: {{Type: AWS::Lambda::Permission, Properties: {{FunctionName: !Ref F}}}}}}"),
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, C: {{Type: AWS::Connect::IntegrationAssociation, Properties: {{IntegrationType: LAMBDA_FUNCTION, IntegrationArn: !GetAtt F.Arn}}}}}}"),
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, M: {{Type: AWS::Lambda::EventSourceMapping, Properties: {{FunctionName: !Sub '${{F.Arn}}:$LATEST'}}}}}}"),
    (latest_problems, True, "Resources: {M: {Type: AWS::Lambda::EventSourceMapping, Properties: {FunctionName: 'arn:aws:lambda:us-east-1:111122223333:function:f'}}}"),
    (latest_problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {}}, P: {Type: AWS::Lambda::Permission, Properties: {FunctionName: !Ref F.Alias}}}"),
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, P: {{Type: AWS::Lambda::Permission, Properties: {{FunctionName: !If [C, !Ref F.Alias, !GetAtt F.Arn]}}}}}}"),
    (latest_problems, True, f"Resources: {{F: {FUNCTION}, R: {{Type: AWS::Events::Rule, Properties: {{Targets: [{{Id: f, Arn: !GetAtt F.Arn}}]}}}}}}"),
    (latest_problems, True, "Resources: {F: {Type: AWS::Serverless::Function, Properties: {Events: {Q: {Type: SQS}}}}}"),
    # $LATEST: passes
    (latest_problems, False, f"Resources: {{F: {FUNCTION}, P: {{Type: AWS::Lambda::Permission, Properties: {{FunctionName: !Ref F.Alias}}}}, C: {{Type: AWS::Connect::IntegrationAssociation, Properties: {{IntegrationType: LAMBDA_FUNCTION, IntegrationArn: !Ref F.Alias}}}}, M: {{Type: AWS::Lambda::EventSourceMapping, Properties: {{FunctionName: !Ref F.Alias}}}}}}"),
    (latest_problems, False, "Resources: {M: {Type: AWS::Lambda::EventSourceMapping, Properties: {FunctionName: 'arn:aws:lambda:us-east-1:111122223333:function:f:live'}}}"),
    (latest_problems, False, f"Resources: {{F: {FUNCTION}, Q: {{Type: AWS::SQS::Queue}}, R: {{Type: AWS::Events::Rule, Properties: {{Targets: [{{Id: q, Arn: !GetAtt Q.Arn}}]}}}}}}"),
    # dashboard: caught
    (dashboard_problems, True, DASHBOARD % '{"widgets": [ {"type": "text", "properties": {"markdown": "x"}}, ]}'),
    (dashboard_problems, True, DASHBOARD % '{"widgets": [ {"type": "text", "properties": {"markdown": ${Ns}}} ]}'),
    (dashboard_problems, True, DASHBOARD % '{"widgets": [ {"type": "text", "properties": {"markdown": "${Missing}"}} ]}'),
    (dashboard_problems, True, DASHBOARD % '{"widgets": [ {"type": "metric", "properties": {"metrics": []}} ]}'),
    (dashboard_problems, True, DASHBOARD % '{"title": "no widgets"}'),
    # dashboard: passes
    (dashboard_problems, False, DASHBOARD % '{"widgets": [ {"type": "metric", "properties": {"region": "${AWS::Region}", "metrics": [["${Ns}", "Started", "QueueName", "${Q.QueueName}"]], "annotations": {"horizontal": [{"value": ${Rate}}]}}} ]}'),
    (dashboard_problems, False, DASHBOARD % '{"widgets": [ {"type": "text", "properties": {"markdown": "${!NotSubstituted} ${AWS::StackName}"}} ]}'),
    # queues: caught
    ("queues", True, "Resources: {Q: {Type: AWS::SQS::Queue, Properties: {}}}"),
    ("queues", True, f"Resources: {{{TOPIC}, S: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true, RedrivePolicy: {{deadLetterTargetArn: !GetAtt D.Arn}}}}}}, D: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true}}}}}}"),
    ("queues", True, f"Resources: {{{TOPIC}, {ALARM_ON_DLQ}, S: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true, MessageRetentionPeriod: 604800, RedrivePolicy: {{deadLetterTargetArn: !GetAtt D.Arn}}}}}}, D: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true, MessageRetentionPeriod: 604800}}}}}}"),
    ("queues", True, f"Resources: {{{TOPIC}, {ALARM_ON_DLQ}, D: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600}}}}, R: {{Type: AWS::Events::Rule, Properties: {{Targets: [{{Id: x, Arn: y, DeadLetterConfig: {{Arn: !GetAtt D.Arn}}}}]}}}}}}"),
    ("queues", True, "Resources: {D: {Type: AWS::SQS::Queue, Properties: {SqsManagedSseEnabled: true}}, F: {Type: AWS::Serverless::Function, Properties: {EventInvokeConfig: {DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt D.Arn}}}}}}"),
    # retry timing: caught (too short for the timeout; too long to retry within the age), then passes
    (retry_timing_problems, True, retry_timing(100, 60, 300)),
    (retry_timing_problems, True, retry_timing(390, 60, 300)),
    (retry_timing_problems, False, retry_timing(270, 40, 300)),
    (retry_timing_problems, False, retry_timing(390, 60, 0)),
    # queues: passes
    ("queues", False, f"Resources: {{{TOPIC}, {ALARM_ON_DLQ}, S: {{Type: AWS::SQS::Queue, Properties: {{SqsManagedSseEnabled: true, MessageRetentionPeriod: 86400, RedrivePolicy: {{deadLetterTargetArn: !GetAtt D.Arn}}}}}}, D: {{Type: AWS::SQS::Queue, Properties: {{KmsMasterKeyId: alias/k, MessageRetentionPeriod: 604800}}}}}}"),
]


def self_test():
    failures = 0
    for check, should_flag, text in SELF_TEST:
        check = queue_problems if check == "queues" else check
        found = check(yaml.load(text, Loader=CfnLoader))
        if should_flag and not found:
            print(f"self-test: {check.__name__} did NOT catch: {text.strip()}")
            failures += 1
        elif not should_flag and found:
            print(f"self-test: {check.__name__} wrongly flagged {found} in: {text.strip()}")
            failures += 1
    print(f"template check self-test: {len(SELF_TEST) - failures} passed, {failures} failed")
    return failures == 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return 0 if self_test() else 1
    path = argv[1] if len(argv) > 1 else "template.yaml"
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    total = 0
    for label, check in CHECKS:
        found = check(template)
        total += len(found)
        for problem in found:
            print(f"{label}: {problem}")
        print(f"{label}: {len(found)} problem(s)")
    connect_statements = sum(
        1 for _, s in statements(resources(template)) if any(str(a).lower().startswith("connect:") for a in as_list(s.get("Action", [])))
    )
    if connect_statements == 0:
        print("least privilege: no statement grants connect:MonitorContact: the function could not work")
        return 1
    dynamodb_statements = sum(1 for _, s in statements(resources(template)) if any(grants_dynamodb(a) for a in as_list(s.get("Action", []))))
    if of_type(template, "AWS::DynamoDB::Table") and dynamodb_statements == 0:
        print("state table: no statement grants access to the state table: quota rules could not work")
        return 1
    print(f"template checks: {connect_statements} connect statement(s), {dynamodb_statements} dynamodb statement(s), {total} problem(s) in {path}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
