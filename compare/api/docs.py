"""The API described: the OpenAPI document (compare/api/openapi.py) as JSON and as a page."""

from django.http import JsonResponse
from django.shortcuts import render

from compare.api import openapi
from compare.api.auth import api_view


@api_view(["GET"])
def openapi_document(request):
    return JsonResponse(openapi.document(), json_dumps_params={"indent": 1})


def docs(request):
    """The document as a page: each endpoint with its parameters, body and answers, and the schemas."""
    return render(request, "compare/api_docs.html", openapi.page_context())
