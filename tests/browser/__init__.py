"""Real-browser tests (headless Chromium): the demo, set-up, the visit report."""
