"""The AWS services whose clients pushdeploy's functions create.

The built layer keeps botocore's models of these services only (``tools/package_layer.py``: the other 430-odd
services' models are most of the layer's size, and a client's first creation walks every service's directory),
and the composition root refuses a client of any other service (``wiring.clients_of``), so that a client added
without its model fails in the tests rather than on Lambda. No import here: the packaging tool reads it with the
interpreter `sam build` uses.
"""

SERVICES = frozenset({"cloudwatch", "dynamodb", "ecr", "ecs", "scheduler", "sns", "ssm", "sts"})
