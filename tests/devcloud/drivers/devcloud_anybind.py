"""An ML2 mechanism driver that binds every port (runs inside neutron's API process).

The dev cloud runs Neutron's API only: no OVS, OVN or Linux bridge agent. Without an agent no
shipped mechanism driver binds a port, and nova's server boot then ends in "binding failed".
This driver binds any port on any host to the first segment it is offered, as VIF type
"other", which nova's fake virt driver accepts.
"""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class AnyBindMechanismDriver(api.MechanismDriver):
    """Bind everything, know nothing."""

    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OTHER,
                {portbindings.CAP_PORT_FILTER: False},
                status=constants.PORT_STATUS_ACTIVE,
            )
            return
