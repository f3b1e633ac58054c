"""Live-demo tools: the Tool contract, the plugin registry and the pipeline-trace model."""
