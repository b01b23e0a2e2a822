"""The project's URLs plus views that fail, for the error-page tests."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns

SECRET_DETAIL = "secret-detail-from-the-exception"


def boom(request):
    raise RuntimeError(SECRET_DETAIL)


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(SECRET_DETAIL)


urlpatterns = [
    path("boom/", boom),
    path("api/v1/boom/", BoomApi.as_view()),
    *project_urlpatterns,
]
