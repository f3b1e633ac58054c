"""genai-tutor: a chat tutor that teaches generative AI from its own lessons and live model runs."""
