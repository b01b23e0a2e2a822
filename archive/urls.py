from django.urls import path

from archive import views

app_name = "archive"
urlpatterns = [
    path("<int:asset_id>/file/", views.asset_file, name="asset-file"),
    path("<int:asset_id>/<str:size>.jpg", views.asset_rendition, name="asset-rendition"),
]
