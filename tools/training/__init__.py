"""Live training demos for the training_demo tool: one module per model family (gan, char_gpt,
diffusion), each with `DEFAULTS` and `train(cfg, run) -> Result`, and the shared run loop."""
