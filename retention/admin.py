"""Quarantine in the admin: what is held back, until when, and restoring it."""

from django.contrib import admin, messages

from archive.admin import thumbnail_html
from archive.errors import ArchiveError
from retention.models import QuarantineRecord
from retention.services import asset_restore


@admin.register(QuarantineRecord)
class QuarantineRecordAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "asset",
        "reason",
        "quarantined_at",
        "restore_deadline",
        "restored_at",
    ]
    list_filter = ["restored_at"]
    search_fields = ["asset__original_filename", "asset__sha256", "reason"]
    list_select_related = ["asset"]
    actions = ["restore"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_restore_permission(self, request):
        return request.user.has_perm("retention.restore_asset")

    @admin.display(description="")
    def thumbnail(self, obj):
        return thumbnail_html(obj.asset)

    @admin.action(description="Restore selected assets", permissions=["restore"])
    def restore(self, request, queryset):
        for record in queryset.filter(restored_at__isnull=True):
            try:
                asset_restore(asset=record.asset, actor=request.user, reason="restored in admin")
            except ArchiveError as exc:
                self.message_user(request, f"{record.asset}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{record.asset} restored.", messages.SUCCESS)
