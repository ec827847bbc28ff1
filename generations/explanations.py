"""Plain-language explanations of every way a job can fail, for the people who submitted it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Explanation:
    title: str
    advice: str


EXPLANATIONS = {
    "content_moderated": Explanation(
        "Blocked by content moderation",
        "Luma's safety filter refused the prompt or an input. Rephrase it or use other images; "
        "retrying the same request will be refused again.",
    ),
    "generation_failed": Explanation(
        "The model failed this time",
        "A temporary failure on Luma's side. Retrying the same request usually works.",
    ),
    "budget_exhausted": Explanation(
        "Out of credit",
        "The team's Luma account has no budget left. An admin needs to top it up.",
    ),
    "output_not_found": Explanation(
        "The result went missing",
        "Luma finished but could not find the output. Retrying usually works.",
    ),
    "image_too_large": Explanation(
        "An input is too large", "Use a smaller image or video and try again."
    ),
    "unsupported_format": Explanation(
        "An input's format is not supported", "Use PNG, JPEG or WebP images and MP4 videos."
    ),
    "corrupt_input": Explanation(
        "An input file is damaged", "The file could not be read. Export it again and re-upload."
    ),
    "invalid_request": Explanation(
        "Luma refused the request",
        "Some settings cannot be combined. Edit the request using the reason shown.",
    ),
    "rate_limited": Explanation(
        "Too many jobs at once", "Luma asked us to slow down. Try again in a minute."
    ),
    "outcome_unknown": Explanation(
        "We lost track of this job",
        "The request reached Luma but its answer never came back, so it may or may not be "
        "running (and charged). An admin reviews these before anything is resent.",
    ),
    "upstream_refused": Explanation(
        "Luma refused our credentials", "The server's API key was refused. Tell an admin."
    ),
    "upstream_unavailable": Explanation(
        "Luma could not be reached", "Luma was unavailable for a while. Try again later."
    ),
    "upstream_lost": Explanation(
        "Luma forgot this job", "Luma no longer knows this job. Resubmit it."
    ),
}
UNKNOWN = Explanation("Something went wrong", "Try again; if it keeps failing, tell an admin.")


def explain(code: str) -> Explanation:
    """The explanation for a failure code, with a generic one for codes we do not know yet."""
    return EXPLANATIONS.get(code, UNKNOWN)
