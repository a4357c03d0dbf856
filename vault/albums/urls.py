from django.urls import path

from vault.albums.views import albums, media, members, photos

app_name = "albums"

urlpatterns = [
    path("", albums.album_list, name="list"),
    path("add", photos.photos_add, name="add_photos"),
    path("partner/start", albums.partner_start, name="partner_start"),
    path("partner/stop", albums.partner_stop, name="partner_stop"),
    path("<uuid:album_id>/", albums.album_detail, name="detail"),
    path("<uuid:album_id>/edit", albums.album_edit, name="edit"),
    path("<uuid:album_id>/delete", albums.album_delete, name="delete"),
    path("<uuid:album_id>/remove", photos.photos_remove, name="remove_photos"),
    path("<uuid:album_id>/members", members.member_add, name="member_add"),
    path("<uuid:album_id>/members/<int:member_id>/role", members.member_role, name="member_role"),
    path(
        "<uuid:album_id>/members/<int:member_id>/remove",
        members.member_remove,
        name="member_remove",
    ),
    path("<uuid:album_id>/leave", members.leave, name="leave"),
    path("<uuid:album_id>/in-gallery", albums.partner_gallery, name="partner_gallery"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/", photos.photo_detail, name="photo"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/cover", photos.cover, name="cover"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/save", photos.save_copy, name="save"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/thumb", photos.thumb, name="thumb"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/preview", photos.preview, name="preview"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/download", photos.download, name="download"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/play", media.play, name="play"),
    path("<uuid:album_id>/photos/<uuid:photo_id>/motion", media.motion, name="motion"),
    path(
        "<uuid:album_id>/photos/<uuid:photo_id>/motion/download",
        media.motion_download,
        name="motion_download",
    ),
    path(
        "<uuid:album_id>/photos/<uuid:photo_id>/download/both",
        media.download_both,
        name="download_both",
    ),
]
