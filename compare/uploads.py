"""Request bodies and uploads are capped, never held whole. A body whose Content-Length is over
MAX_REQUEST_BYTES is answered 413 before any of it is read (RequestSizeMiddleware here; in
production config/asgi.py does it first, with the same words, before Django spools the body). An
uploaded file over MAX_IMAGE_BYTES is dropped as soon as it passes the cap and reaches the form as
a RefusedUpload, which the form turns into an error naming the file (compare.forms), so nothing is
silently left out of a comparison."""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse


def too_large(length):
    """The refusal for a body of ``length`` bytes, or None when it is within MAX_REQUEST_BYTES."""
    limit = settings.MAX_REQUEST_BYTES
    if length <= limit:
        return None
    return f"Request body too large: {length:,} bytes, over the {limit:,} byte limit (MAX_REQUEST_BYTES).\n"


class RequestSizeMiddleware:
    """Answers 413 for a declared body over MAX_REQUEST_BYTES, before anything (CSRF included)
    reads it; the connection is closed rather than the body drained."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or ""
        refusal = too_large(int(declared)) if declared.isdigit() else None
        if refusal:
            response = HttpResponse(refusal, status=413, content_type="text/plain; charset=utf-8")
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class RefusedUpload(UploadedFile):
    """Stands in for an upload that was not kept; ``reason`` says why, for the form."""

    def __init__(self, name, received, reason):
        super().__init__(io.BytesIO(b""), name=name, content_type="application/octet-stream", size=received)
        self.reason = reason


class CappedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: counts each file's bytes and passes them on to Django's
    memory and temporary-file handlers until MAX_IMAGE_BYTES; past that, it closes what they hold,
    passes nothing more (the rest of that file is read and discarded) and answers a RefusedUpload."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MAX_IMAGE_BYTES:
            if not self.over:
                self.over = True
                for handler in self.request.upload_handlers:  # drop what the next handlers hold
                    if handler is not self and getattr(handler, "file", None) is not None:
                        handler.file.close()
            return None
        return raw_data

    def file_complete(self, file_size):
        if not self.over:
            return None  # the next handler hands over the file it kept
        limit = settings.MAX_IMAGE_BYTES
        return RefusedUpload(self.file_name, self.received, f"{self.file_name} is {self.received:,} bytes, over the "
                                                            f"{limit:,} byte limit per image (MAX_IMAGE_BYTES); it was not kept.")
