"""The pure core: configuration, tag policy, task-definition rendering, messages. No AWS library here."""
