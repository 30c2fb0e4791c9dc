"""Developer tools: the sample world, the local AWS harness, config checks. Not shipped with the function."""
