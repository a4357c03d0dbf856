from django.urls import path

from vault.photos.views import content, gallery, live, manage, resumable, tags, trash, upload

app_name = "photos"

urlpatterns = [
    path("", gallery.gallery, name="gallery"),
    path("upload", upload.upload, name="upload"),
    path("uploads/", resumable.create, name="resumable_create"),
    path("uploads/<uuid:upload_id>", resumable.upload, name="resumable"),
    path("status", gallery.status, name="status"),
    path("delete", manage.delete, name="delete"),
    path("tags", tags.tags_bulk, name="tags_bulk"),
    path("tagging", tags.tagging_status, name="tagging_status"),
    path("trash/", trash.trash_page, name="trash"),
    path("trash/restore", trash.restore, name="trash_restore"),
    path("trash/delete", trash.delete_for_good, name="trash_delete"),
    path("trash/empty", trash.empty, name="trash_empty"),
    path("<uuid:photo_id>/", gallery.photo_detail, name="detail"),
    path("<uuid:photo_id>/tags", tags.photo_tags, name="tags"),
    path("<uuid:photo_id>/thumb", content.thumb, name="thumb"),
    path("<uuid:photo_id>/preview", content.preview, name="preview"),
    path("<uuid:photo_id>/download", content.download, name="download"),
    path("<uuid:photo_id>/play", content.play, name="play"),
    path("<uuid:photo_id>/motion", live.motion, name="motion"),
    path("<uuid:photo_id>/motion/download", live.motion_download, name="motion_download"),
    path("<uuid:photo_id>/download/both", live.download_both, name="download_both"),
    path("<uuid:photo_id>/retry", manage.retry, name="retry"),
]
