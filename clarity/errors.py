"""The domain's refusals: what services, selectors and commands raise (HackSoft's ApplicationError family).

They say what rule refused the operation, in the domain's words, and carry what the audit
trail needs to record a denial; they know nothing of HTTP. The API maps each class to its
problem+json answer in one place (`clarity.api.errors.problem_exception_handler`, which
the FHIR layer re-expresses as an OperationOutcome); the admin shows `message`; a
management command turns it into a CommandError. Bad input stays Django's ValidationError.

`message` is the text a person is shown. The API shows it as the problem's `detail`,
except for OutOfScope, whose answer is always the same fixed 404 (no existence oracle).
"""


class ApplicationError(Exception):
    """Base of the domain's refusals; `message` is a fixed sentence, never a value the caller sent."""

    message = "The operation was refused."

    def __init__(self, message: str | None = None):
        if message is not None:
            self.message = message
        super().__init__(self.message)


class OutOfScope(ApplicationError):
    """
    The record does not exist, or exists outside the caller's scope: the two are one
    answer. Audited as a denied access to `resource_type`/`resource_id`, naming the
    patient when the record exists, so "who tried to see this patient" is answerable.
    """

    message = "The requested resource was not found."

    def __init__(self, resource_type: str, resource_id, patient_id=None):
        super().__init__()
        self.resource_type = resource_type
        self.resource_id = str(resource_id)
        self.patient_id = patient_id


class NotAllowed(ApplicationError):
    """
    The caller may reach the record (or the endpoint) but may not do this. Audited as a
    denied access; a refusal of a caller working under break-the-glass is flagged like
    their reads.
    """

    message = "You do not have permission to perform this action."

    def __init__(
        self, message: str | None = None, *, resource_type: str = "", resource_id="", patient_id=None, break_glass=False
    ):
        super().__init__(message)
        self.resource_type = resource_type
        self.resource_id = str(resource_id or "")
        self.patient_id = patient_id
        self.break_glass = break_glass


class Conflict(ApplicationError):
    """A uniqueness or state rule refuses the write, naming the field it concerns (never its value)."""

    message = "The request conflicts with the current state of the resource."
    # What is said of `field`.
    field_message = "Conflicts with existing data."

    def __init__(self, message: str | None = None, field: str | None = None):
        super().__init__(message)
        self.field = field


class StaleVersion(ApplicationError):
    """The write named a version of the record (If-Match) that is no longer the current one."""

    message = "The resource has changed since the version given in If-Match."


class PreconditionRequired(ApplicationError):
    """The write must name the version it was based on (If-Match), and did not."""

    message = "This request requires an If-Match header with the resource's current ETag."


class IdempotencyMismatch(ApplicationError):
    """The caller reused an idempotency key for a different request."""

    message = "This Idempotency-Key was already used with a different request."


class Busy(ApplicationError):
    """A limit (capacity, a login lockout) refused the operation for now; retry after `retry_after` seconds."""

    message = "Too many requests; retry later."

    def __init__(self, message: str | None = None, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
