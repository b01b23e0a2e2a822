"""Top-level URLs: the admin (where curators work), asset files and thumbnails."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Keepsake"
admin.site.site_title = "Keepsake"
admin.site.index_title = "Image archive"

# A static page (or the API's JSON error body), never the technical one.
handler500 = "config.errors.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("assets/", include("archive.urls")),
    path("api/v1/", include(("config.api_urls", "api"))),
]
