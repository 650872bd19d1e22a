"""The public entry: an Application Load Balancer in front of LiteLLM and Langfuse web.

With a domain: HTTPS only (TLS 1.2+, ACM certificate DNS-validated), HTTP redirected, host routing
`litellm.<domain>` / `langfuse.<domain>`. With a hosted zone the validation records and aliases are
created in it; without one (stg only: the loader requires the zone in prod) every record the
operator must create is logged as one warning and exported before the update waits for the
certificate, and that wait is bounded (VALIDATION_TIMEOUT). Without a domain (allowInsecureHttp): plain
HTTP on the load balancer's name, LiteLLM on :80 and Langfuse on :3000. Either way only
`allowedCidrs` reach it (its security group), invalid headers are dropped, access logs go to S3,
and the idle timeout outlives a streamed completion.

`loadBalancer.scheme: internal` puts it in the private subnets with private addresses only: clients
reach it over VPN, Direct Connect or peering. Its AWS name (and so the zone's aliases to it) still
resolves publicly, to those private addresses (Elastic Load Balancing guide, "Internal Classic Load
Balancers": "The DNS name of an internal load balancer is publicly resolvable to the private IP
addresses of the nodes"), and the zone stays public: ACM validates through public DNS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import GatewayComponent
from reference import names
from renderers.network import HTTP, HTTPS, INSECURE_LANGFUSE_PORT, public_urls
from services.serving import SERVING
from services.specs import LANGFUSE_READY_PATH, LANGFUSE_WEB_PORT, LITELLM_HEALTH_PATH, LITELLM_PORT
from config.settings import Settings

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Without a zone the update waits for records a person creates. The provider waits 75 minutes by
# default (terraform-provider-aws internal/service/acm/certificate_validation.go:
# `Create: schema.DefaultTimeout(75 * time.Minute)`); failing sooner puts the records back in
# front of the operator, and a rerun keeps the same certificate and so the same records.
VALIDATION_TIMEOUT = "30m"


@dataclass(frozen=True)
class LoadBalancerArgs:
    settings: Settings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]  # where an internal load balancer lives
    security_group_id: pulumi.Input[str]
    access_log_bucket: pulumi.Input[str]
    target_type: str  # "ip" (Fargate tasks) or "instance" (the EC2 host)


@dataclass(frozen=True)
class _Route:
    name: str
    port: int
    health_path: str
    deregistration_delay: int
    host: str | None


class LoadBalancer(GatewayComponent):
    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        settings = args.settings
        prefix = settings.name_prefix
        internal = settings.load_balancer.scheme == "internal"
        self.lb = aws.lb.LoadBalancer(
            f"{name}-alb",
            name=names.load_balancer(prefix),
            load_balancer_type="application",
            internal=internal,
            subnets=list(args.private_subnet_ids if internal else args.public_subnet_ids),
            security_groups=[args.security_group_id],
            # Longer than the proxy's request timeout, shorter than the targets' keep-alive (services/serving.py).
            idle_timeout=SERVING.load_balancer_idle,
            drop_invalid_header_fields=True,
            enable_deletion_protection=settings.protect,
            access_logs={"bucket": args.access_log_bucket, "prefix": "alb", "enabled": True},
            opts=self.child(),
        )
        routes = (
            # Draining waits for the calls in flight before a task leaves.
            _Route("litellm", LITELLM_PORT, LITELLM_HEALTH_PATH, SERVING.draining, settings.litellm_host),
            _Route("langfuse", LANGFUSE_WEB_PORT, LANGFUSE_READY_PATH, 30, settings.langfuse_host),
        )
        self.target_groups = {route.name: self._target_group(name, route, args) for route in routes}
        # Target group -> the listener or rule that forwards to it. ECS refuses a service whose
        # target group no load balancer uses yet ("target group ... does not have an associated
        # load balancer"): services wait for these.
        self.forwarders: dict[str, list[pulumi.Resource]] = {}
        # Stg with a domain but no zone: the DNS records the operator creates by hand.
        self.manual_dns_records: pulumi.Output[list[dict]] | None = None

        if settings.allow_insecure_http:
            pulumi.log.warn(
                f"{prefix}: no domain, serving plain HTTP on the load balancer name "
                "(allowInsecureHttp). Keys and prompts cross the network unencrypted."
            )
            self.listeners = [
                self._forward(name, HTTP, self.target_groups["litellm"]),
                self._forward(name, INSECURE_LANGFUSE_PORT, self.target_groups["langfuse"]),
            ]
            self.forwarders = {"litellm": [self.listeners[0]], "langfuse": [self.listeners[1]]}
        else:
            self.listeners = self._https(name, settings, routes)

        self.dns_name = self.lb.dns_name
        self.arn_suffix = self.lb.arn_suffix
        urls = self.lb.dns_name.apply(lambda dns: public_urls(settings, dns))
        self.litellm_url = urls.apply(lambda u: u[0])
        self.langfuse_url = urls.apply(lambda u: u[1])
        self.register_outputs({"dnsName": self.dns_name, "litellmUrl": self.litellm_url, "langfuseUrl": self.langfuse_url})

    def _target_group(self, name: str, route: _Route, args: LoadBalancerArgs) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{name}-{route.name}",
            name_prefix=route.name[:6],
            port=route.port,
            protocol="HTTP",
            target_type=args.target_type,
            vpc_id=args.vpc_id,
            deregistration_delay=route.deregistration_delay,
            health_check={
                "path": route.health_path, "matcher": "200", "interval": 15, "timeout": 5,
                "healthy_threshold": 2, "unhealthy_threshold": 3,
            },
            opts=self.child(),
        )

    def _forward(self, name: str, port: int, target: aws.lb.TargetGroup) -> aws.lb.Listener:
        return aws.lb.Listener(
            f"{name}-http-{port}", load_balancer_arn=self.lb.arn, port=port, protocol="HTTP",
            default_actions=[{"type": "forward", "target_group_arn": target.arn}], opts=self.child(),
        )

    def _https(self, name: str, settings: Settings, routes: Sequence[_Route]) -> list[aws.lb.Listener]:
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=settings.litellm_host,
            subject_alternative_names=[settings.langfuse_host],
            validation_method="DNS",
            opts=self.child(),
        )
        records = certificate.domain_validation_options.apply(lambda options: {
            o.domain_name: {"name": o.resource_record_name, "type": o.resource_record_type, "value": o.resource_record_value}
            for o in options
        })
        if settings.hosted_zone_id:
            fqdns = [
                aws.route53.Record(
                    f"{name}-validation-{route.name}",
                    zone_id=settings.hosted_zone_id,
                    name=records.apply(lambda r, host=route.host: r[host]["name"]),
                    type=records.apply(lambda r, host=route.host: r[host]["type"]),
                    records=[records.apply(lambda r, host=route.host: r[host]["value"])],
                    ttl=300,
                    allow_overwrite=True,
                    opts=self.child(),
                ).fqdn
                for route in routes
            ]
            certificate_arn, timeouts = certificate.arn, None
        else:
            self.manual_dns_records = pulumi.Output.all(records, self.lb.dns_name).apply(
                lambda v: manual_dns_records(v[0], [route.host for route in routes], v[1])
            )
            told = self.manual_dns_records.apply(_warn_manual_records)
            fqdns = None
            # The operator is told before the wait starts: the ARN the validation waits on resolves
            # only after the warning is logged (which needs the load balancer's name).
            certificate_arn = pulumi.Output.all(certificate.arn, told).apply(lambda v: v[0])
            timeouts = pulumi.CustomTimeouts(create=VALIDATION_TIMEOUT)
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate", certificate_arn=certificate_arn, validation_record_fqdns=fqdns,
            opts=self.child(custom_timeouts=timeouts),
        )
        https = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.lb.arn,
            port=HTTPS,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=validation.certificate_arn,
            default_actions=[{"type": "fixed-response", "fixed_response": {"content_type": "text/plain", "message_body": "not found", "status_code": "404"}}],
            opts=self.child(),
        )
        for priority, route in enumerate(routes, start=10):
            self.forwarders[route.name] = [aws.lb.ListenerRule(
                f"{name}-{route.name}",
                listener_arn=https.arn,
                priority=priority,
                conditions=[{"host_header": {"values": [route.host]}}],
                actions=[{"type": "forward", "target_group_arn": self.target_groups[route.name].arn}],
                opts=self.child(),
            )]
            if settings.hosted_zone_id:
                aws.route53.Record(
                    f"{name}-{route.name}-alias",
                    zone_id=settings.hosted_zone_id,
                    name=route.host,
                    type="A",
                    aliases=[{"name": self.lb.dns_name, "zone_id": self.lb.zone_id, "evaluate_target_health": True}],
                    opts=self.child(),
                )
        redirect = aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=self.lb.arn,
            port=HTTP,
            protocol="HTTP",
            default_actions=[{"type": "redirect", "redirect": {"port": str(HTTPS), "protocol": "HTTPS", "status_code": "HTTP_301"}}],
            opts=self.child(),
        )
        return [https, redirect]


def manual_dns_records(validation: dict[str, dict], hosts: Sequence[str], load_balancer_dns: str) -> list[dict]:
    """Every record a zone would hold: the certificate's validation CNAMEs, then each host as a
    CNAME to the load balancer (a CNAME, not an alias: any DNS provider can serve it)."""
    return [
        *(validation[host] for host in hosts),
        *({"name": host, "type": "CNAME", "value": load_balancer_dns} for host in hosts),
    ]


def _warn_manual_records(records: list[dict]) -> None:
    pulumi.log.warn(
        "No hostedZoneId: create these DNS records now (also the stack output dnsRecordsToCreate); the update "
        f"waits up to {VALIDATION_TIMEOUT} for the certificate; if it times out, rerun `pulumi up` once they resolve: "
        + "; ".join(f"{r['name']} {r['type']} {r['value']}" for r in records)
    )
