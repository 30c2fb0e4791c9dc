"""pushdeploy: a docker push to ECR becomes a deployment of the ECS services mapped to it."""
