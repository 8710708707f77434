"""The product's own error types: every refusal of bad input is one of these."""


class EmotionCoreError(Exception):
    """Base class for errors caused by input or environment, shown as one line to the user."""


class ImageError(EmotionCoreError):
    """An image cannot be read or is not acceptable (corrupt, too large, too small...)."""


class NotAnImageError(ImageError):
    """The bytes are in no picture format we read (they may be a video)."""


class RegistryError(EmotionCoreError):
    """`faces.pkl` cannot be read or written safely."""


class EnrollmentError(EmotionCoreError):
    """An enrollment was refused; nothing was stored."""


class SettingsError(EmotionCoreError):
    """A setting is outside its allowed range."""


class ModelUnavailableError(EmotionCoreError):
    """A model's weights are missing or cannot be loaded; the message says how to get them."""


class VideoError(EmotionCoreError):
    """A video file cannot be opened or has no frames."""


class StoreError(EmotionCoreError):
    """The emotion log database cannot be used."""


class CancelledError(EmotionCoreError):
    """Long work was cancelled by the user; nothing was stored."""
