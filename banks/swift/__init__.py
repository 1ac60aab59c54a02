"""The Swift bank: objects in one Swift container over a keystoneauth session; streamed puts
as segments and an SLO manifest."""
