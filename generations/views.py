"""The studio's pages: create, watch, browse."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling, reswap, retarget

from generations.forms import ImageForm
from generations.models import Generation
from generations.submission import start_generation

GALLERY_PAGE = 24


def home(request: HttpRequest) -> HttpResponse:
    """The prompt box and, below it, everything the team made, newest first."""
    form = ImageForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid() and form.upstream_request is not None:
            generation, created = start_generation(
                request.user,
                form.upstream_request,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
            if request.htmx:
                context = {"generation": generation, "form": ImageForm(), "created": created}
                return render(request, "generations/home.html#created", context)
            messages.success(request, "Sent. Your image will appear below when it is ready.")
            return redirect("home")
        if request.htmx:
            response = render(request, "generations/home.html#create-form", {"form": form})
            return reswap(retarget(response, "#create-form"), "outerHTML")
    generations = Generation.objects.gallery()[:GALLERY_PAGE]
    status = 400 if form.errors else 200
    return render(
        request, "generations/home.html", {"form": form, "generations": generations}, status=status
    )


def _get_generation(uuid: str) -> Generation:
    return get_object_or_404(Generation.objects.gallery(), uuid=uuid)


@require_GET
def card(request: HttpRequest, uuid: str) -> HttpResponse:
    """One gallery card, polled by the page while its job runs; reads our database only."""
    # Outputs are loaded only once the job completed: a poll of a running job is one query.
    generation = get_object_or_404(Generation.objects.select_related("created_by"), uuid=uuid)
    response = render(request, "generations/card.html", {"generation": generation})
    if generation.is_terminal and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
def detail(request: HttpRequest, uuid: str) -> HttpResponse:
    """Everything about one piece: the media, the prompt, how it was made."""
    generation = _get_generation(uuid)
    return render(request, "generations/detail.html", {"generation": generation})
