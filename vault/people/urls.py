from django.urls import path

from vault.people.views import actions, crop, pages

app_name = "people"

urlpatterns = [
    path("", pages.people_list, name="list"),
    path("search", pages.people_search, name="search"),
    path("merges/<uuid:merge_id>/undo", actions.merge_undo, name="merge_undo"),
    path("faces/", actions.faces_bulk, name="faces_bulk"),
    path("faces/<uuid:face_id>/", pages.face_detail, name="face"),
    path("faces/<uuid:face_id>/change", actions.face_action, name="face_action"),
    path("faces/<uuid:face_id>/crop", crop.face_crop, name="crop"),
    path("<uuid:person_id>/", pages.person_detail, name="detail"),
    path("<uuid:person_id>/name", actions.person_rename, name="rename"),
    path("<uuid:person_id>/hide", actions.person_hide, name="hide"),
    path("<uuid:person_id>/merge", actions.person_merge, name="merge"),
    path("<uuid:person_id>/faces", actions.person_faces, name="faces"),
    path("<uuid:person_id>/review", actions.person_review, name="review"),
]
