"""Uploads are streamed and capped, never held whole: a file over MAX_IMAGE_BYTES is dropped as
soon as it passes the cap, and a body whose Content-Length is over MAX_REQUEST_BYTES is not read
at all. What was refused reaches the form as a RefusedUpload, which the form turns into an error
naming the file (compare.forms), so nothing is silently left out of a comparison."""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

# The request-level refusal is filed under this name (no form field has it).
WHOLE_REQUEST = "__request__"


class RefusedUpload(UploadedFile):
    """Stands in for an upload that was not kept; ``reason`` says why, for the form."""

    def __init__(self, name, received, reason):
        super().__init__(io.BytesIO(b""), name=name, content_type="application/octet-stream", size=received)
        self.reason = reason


class CappedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: counts each file's bytes and passes them on to Django's
    memory and temporary-file handlers until MAX_IMAGE_BYTES; past that, it closes what they hold,
    passes nothing more (the rest of that file is read and discarded) and answers a RefusedUpload."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = settings.MAX_REQUEST_BYTES
        if content_length > limit:
            files = MultiValueDict({WHOLE_REQUEST: [RefusedUpload(
                "request", content_length, f"The upload is {content_length:,} bytes, over the {limit:,} byte limit "
                                           "for one request (MAX_REQUEST_BYTES); nothing of it was read.")]})
            return QueryDict(encoding=encoding), files
        return None

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
