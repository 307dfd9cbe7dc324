"""LearnGuard: learning-integrity service for online training platforms."""

__version__ = "0.1.0"
