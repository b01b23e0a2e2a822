"""The one domain error every interface (command, admin, API) translates for its user."""


class ArchiveError(Exception):
    """A business rule refused the operation; the message is meant for the user."""

    def __init__(self, message: str, *, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidImage(ArchiveError):
    """The file is not an image Keepsake can store (empty, corrupt, not an image, a bomb)."""

    def __init__(self, message: str):
        super().__init__(message, code="invalid_image")
