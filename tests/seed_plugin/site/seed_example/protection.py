"""A protection plugin written to the seed: activity_<op>_<kind>(checkpoint, context,
resource, parameters), synchronous, one generator that yields while it polls. Every
activity appends ``start|end op phase type#id`` to the journal file named by the
environment variable SEED_EXAMPLE_JOURNAL, so a test can check the seed's orderings."""

import os
import time

from seed_example.protectables import PROJECT, SERVER, VOLUME


def _journal(event, operation, phase, resource):
    path = os.environ.get("SEED_EXAMPLE_JOURNAL")
    if path:
        with open(path, "a") as journal:
            journal.write(f"{event} {operation} {phase} {resource.type}#{resource.id} "
                          f"{os.getpid()} {time.monotonic_ns()}\n")


def _logged(operation, phase):
    def decorate(body):
        def activity(self, checkpoint, context, resource, parameters):
            _journal("start", operation, phase, resource)
            body(self, checkpoint, context, resource, parameters)
            _journal("end", operation, phase, resource)
        return activity
    return decorate


class ExampleProtectionPlugin:
    @classmethod
    def get_supported_resources_types(cls):
        return [PROJECT, SERVER, VOLUME]

    @classmethod
    def get_options_schema(cls, resources_type):
        return {"type": "object", "additionalProperties": False,
                "properties": {"tag": {"type": "string", "default": "nightly"},
                               "copies": {"type": "integer", "minimum": 1, "default": 1}}}

    @classmethod
    def get_restore_schema(cls, resources_type):
        return {"type": "object", "additionalProperties": False,
                "properties": {"suffix": {"type": "string", "default": "-restored"}}}

    @classmethod
    def get_saved_info_schema(cls, resources_type):
        return {"type": "object", "properties": {"snapshot": {"type": "string"}}}

    @_logged("protect", "pre")
    def activity_protect_pre(self, checkpoint, context, resource, parameters):
        pass

    def activity_protect_parallel(self, checkpoint, context, resource, parameters):
        _journal("start", "protect", "parallel", resource)
        polls = 0
        while True:  # the seed's example: start, then poll until done
            polls += 1
            if polls == 3:
                break
            yield
        section = checkpoint.get_resource_bank_section(resource.id)
        section.update_object("metadata", {"snapshot": f"snap-{resource.id}",
                                           "tag": parameters["tag"], "polls": polls})
        _journal("end", "protect", "parallel", resource)

    @_logged("protect", "post")
    def activity_protect_post(self, checkpoint, context, resource, parameters):
        pass

    @_logged("restore", "pre")
    def activity_restore_pre(self, checkpoint, context, resource, parameters):
        pass

    @_logged("restore", "parallel")
    def activity_restore_parallel(self, checkpoint, context, resource, parameters):
        saved = checkpoint.get_resource_bank_section(resource.id).get_object("metadata")
        if saved["snapshot"] != f"snap-{resource['id']}" or saved["tag"] != "weekly":
            raise RuntimeError(f"unexpected saved info {saved!r}")
        checkpoint.record_restored(resource, resource.id + parameters["suffix"])

    @_logged("restore", "post")
    def activity_restore_post(self, checkpoint, context, resource, parameters):
        pass

    @_logged("delete", "pre")
    def activity_delete_pre(self, checkpoint, context, resource, parameters):
        pass

    @_logged("delete", "parallel")
    def activity_delete_parallel(self, checkpoint, context, resource, parameters):
        checkpoint.get_resource_bank_section(resource.id).delete_object("metadata")

    @_logged("delete", "post")
    def activity_delete_post(self, checkpoint, context, resource, parameters):
        pass
