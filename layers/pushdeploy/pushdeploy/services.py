"""The AWS operations pushdeploy's functions call, by service (botocore's service and operation names).

The built layer keeps botocore's models of these services only, each cut down to these operations and the shapes
they use (``tools/package_layer.py``: the other 430-odd services' models are most of the layer's size, and a cold
start parses every model and endpoint file it creates a client from). The composition root refuses a client of
any other service (``wiring.clients_of``), and the least-privilege scenarios check that every call the functions
make is listed here, so that an operation added without its model fails in the tests rather than on Lambda.
No import here: the packaging tool reads it with the interpreter `sam build` uses.
"""

OPERATIONS: dict[str, frozenset[str]] = {
    "cloudwatch": frozenset({"DescribeAlarms"}),
    "dynamodb": frozenset({"GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"}),
    "ecr": frozenset({"DescribeImageScanFindings", "DescribeImageSigningStatus", "DescribeImages"}),
    "ecs": frozenset(
        {
            "ContinueServiceDeployment",
            "CreateService",
            "DescribeServiceDeployments",
            "DescribeServices",
            "DescribeTaskDefinition",
            "ListServiceDeployments",
            "RegisterTaskDefinition",
            "RunTask",
            "StopServiceDeployment",
            "StopTask",
            "UpdateService",
        }
    ),
    "scheduler": frozenset({"CreateSchedule", "DeleteSchedule"}),
    "sns": frozenset({"Publish"}),
    "ssm": frozenset({"DescribeParameters", "GetParameter", "GetParametersByPath"}),
    "sts": frozenset({"AssumeRole"}),
}
SERVICES = frozenset(OPERATIONS)
