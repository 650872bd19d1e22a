"""The stack in three parts with small, typed interfaces, which `__main__.py` wires together:

- `foundation`: what every compute shape shares (key, network, database, secrets, IAM, the
  load balancer and the Langfuse bucket);
- `platform`: where the services run, ECS or one EC2 host, behind one interface (`Platform`);
- `team_plane`: the teams (their key secrets, the desired-state document) and their reconciliation.

Components are created here, never inside an `apply`; component names are the ones the stack has
always used, so state keeps its URNs.
"""
