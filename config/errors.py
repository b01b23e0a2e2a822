"""Plain error pages: no failure ever answers with Django's technical page.

DEBUG off already renders templates/500.html; the middleware extends that to DEBUG on
(the demo), where Django would otherwise show the traceback, local variables and
settings to whoever triggered the error. The traceback still goes to the log.
"""

from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.core.signals import got_request_exception
from django.db import DataError
from django.http import Http404, HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template import loader
from django.utils.log import log_response

# Django answers these with 4xx pages of their own (django.core.handlers.exception).
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)
API_PREFIX = "/api/"


def server_error(request, template_name: str = "500.html"):
    """The 500 answer: the common JSON error body under the API, a static page elsewhere."""
    if request.path.startswith(API_PREFIX):
        body = {
            "error": {"code": "server_error", "message": "Internal server error; it was logged."}
        }
        return JsonResponse(body, status=500)
    # Rendered without a context or request: nothing that failed can fail it again.
    return HttpResponseServerError(loader.get_template(template_name).render())


class PlainServerErrorMiddleware:
    """Answer an unhandled exception with server_error, logged as Django logs it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, CLIENT_ERRORS):
            return None
        if _unusable_admin_filter(request, exception):
            messages.error(
                request,
                "That filter could not be applied (a date or number outside what the archive "
                "can store); the list is shown unfiltered.",
            )
            return HttpResponseRedirect(request.path)
        got_request_exception.send(sender=None, request=request)
        response = server_error(request)
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=request,
            exception=exception,
        )
        return response


def _unusable_admin_filter(request, exception) -> bool:
    """A changelist's own query failed on a value typed into its URL (a date past year 9999
    in the date drill-down, a UTC offset the database refuses): the user's input, not a
    fault, so they get the list back unfiltered with a message instead of a 500."""
    match = getattr(request, "resolver_match", None)
    return (
        request.method == "GET"
        and bool(request.GET)
        and isinstance(exception, (DataError, OverflowError))
        and match is not None
        and (match.url_name or "").endswith("_changelist")
        and "admin" in match.namespaces
    )
