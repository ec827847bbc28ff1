from django.contrib import admin

from generations.models import Generation, GenerationEvent, Output


class OutputInline(admin.TabularInline):
    model = Output
    extra = 0
    readonly_fields = ("index", "kind", "url", "url_expires_at", "layer")
    can_delete = False


class EventInline(admin.TabularInline):
    model = GenerationEvent
    extra = 0
    readonly_fields = ("at", "kind", "state", "request_id", "data")
    can_delete = False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("uuid", "kind", "model", "state", "failure_code", "created_by", "created_at")
    list_filter = ("state", "failure_code", "kind", "model")
    search_fields = ("prompt", "upstream_id", "uuid", "created_by__username")
    readonly_fields = [f.name for f in Generation._meta.fields]
    inlines = [OutputInline, EventInline]
