"""The local platform (compute: local): the whole gateway as containers of the deploying machine's
Docker, rendered from the same service specs as the AWS platforms."""
