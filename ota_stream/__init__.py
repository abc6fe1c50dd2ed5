"""ota-stream: analytics for over-the-air updates of React Native apps."""

__version__ = "0.1.0"
