"""`python app.py` serves the page on the embedded defaults (the same as `genai-tutor serve`).

The page itself is built in tutor/page.py; this file only launches it."""

from __future__ import annotations

from tutor.page import build_app, launch_options, main
from tutor.settings import ConfigError, Settings

__all__ = ["build_app", "launch_options", "main"]

if __name__ == "__main__":
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        raise SystemExit(f"genai-tutor: {e}") from None
    main(settings)
