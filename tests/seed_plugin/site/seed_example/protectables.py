"""Protectables of a tiny fake cloud: one project, two servers, a volume shared by both."""

PROJECT = "SeedExample::Project"
SERVER = "SeedExample::Server"
VOLUME = "SeedExample::Volume"

SERVERS = {"s1": ["v1"], "s2": ["v1", "v2"]}  # v1 is attached to both: a shared child


def _resource(resource_type, resource_id):
    return {"type": resource_type, "id": resource_id, "name": resource_id,
            "extra_info": {"size_gb": 1} if resource_type == VOLUME else {}}


class ProjectProtectablePlugin:
    def get_resource_type(self):
        return PROJECT

    def get_parent_resource_types(self):
        return ()

    def list_resources(self, context, parameters=None):
        return [_resource(PROJECT, "p1")]

    def show_resource(self, context, resource_id, parameters=None):
        return _resource(PROJECT, resource_id)

    def get_dependent_resources(self, context, parent_resource):
        return []


class ServerProtectablePlugin:
    def get_resource_type(self):
        return SERVER

    def get_parent_resource_types(self):
        return (PROJECT,)

    def list_resources(self, context, parameters=None):
        return [_resource(SERVER, s) for s in sorted(SERVERS)]

    def show_resource(self, context, resource_id, parameters=None):
        return _resource(SERVER, resource_id)

    def get_dependent_resources(self, context, parent_resource):
        assert isinstance(parent_resource, dict), parent_resource  # handed back as returned
        return [_resource(SERVER, s) for s in sorted(SERVERS)]


class VolumeProtectablePlugin:
    def get_resource_type(self):
        return VOLUME

    def get_parent_resource_types(self):
        return (SERVER,)

    def list_resources(self, context, parameters=None):
        return [_resource(VOLUME, v) for v in ("v1", "v2")]

    def show_resource(self, context, resource_id, parameters=None):
        return _resource(VOLUME, resource_id)

    def get_dependent_resources(self, context, parent_resource):
        assert isinstance(parent_resource, dict), parent_resource
        return [_resource(VOLUME, v) for v in SERVERS.get(parent_resource["id"], [])]
