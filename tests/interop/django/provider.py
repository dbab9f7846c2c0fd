"""A second OpenID Provider nobody here wrote: Django OAuth Toolkit, set up as its documentation
says. Used by Latchkey's interop tests only (crates/auth/tests/interop_dot.rs).

    python provider.py PORT DATA_DIR FIXED_PORT

Serves http://127.0.0.1:PORT with DOT mounted at /o/ (the issuer is http://127.0.0.1:PORT/o),
OIDC on with an RSA key made at start, RP-initiated logout on, rotating refresh tokens, and:

- a user alice (password "todo");
- latchkey-any-port: a public client registered as http://127.0.0.1/callback, which DOT
  matches on any loopback port (RFC 8252 §7.3);
- latchkey-fixed-ports: a public client registered for http://127.0.0.1:FIXED_PORT/callback only;
- latchkey-device: a public client for the device grant (a DOT application has one grant type);
- /api/whoami: a resource DOT protects (its opaque access tokens are checked in its database);
- /test/live-tokens?user=NAME: how many of the user's access and refresh tokens are still live,
  for the tests to see a revocation in DOT's own database.

DOT lists revocation_endpoint only in its RFC 8414 document and device_authorization_endpoint
nowhere. Prints "ready ISSUER" once it listens.
"""

import json
import os
import sys

PORT = int(sys.argv[1])
DATA_DIR = sys.argv[2]
FIXED_PORT = int(sys.argv[3])
ORIGIN = f"http://127.0.0.1:{PORT}"
ISSUER = f"{ORIGIN}/o"

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode()
)

from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.urandom(32).hex(),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "oauth2_provider",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(DATA_DIR, "dot.sqlite3"),
        }
    },
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ],
    LOGIN_URL="/accounts/login/",
    USE_TZ=True,
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    OAUTH2_PROVIDER={
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": KEY,
        "OIDC_ISS_ENDPOINT": ISSUER,
        "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
        "PKCE_REQUIRED": True,
        "ROTATE_REFRESH_TOKEN": True,
        "SCOPES": {
            "openid": "OpenID Connect",
            "profile": "Your name",
            "email": "Your email address",
        },
        "OAUTH_DEVICE_VERIFICATION_URI": f"{ISSUER}/device/",
        "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": f"{ISSUER}/device/?user_code={{user_code}}",
    },
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth import views as auth_views  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpResponseForbidden, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.decorators import protected_resource  # noqa: E402
from oauth2_provider.models import AccessToken, Application, RefreshToken  # noqa: E402


@protected_resource()
def whoami(request):
    return JsonResponse({"user": request.resource_owner.username})


def live_tokens(request):
    if request.META.get("REMOTE_ADDR") != "127.0.0.1":
        return HttpResponseForbidden()
    user = request.GET["user"]
    access = AccessToken.objects.filter(user__username=user, expires__gt=timezone.now()).count()
    refresh = RefreshToken.objects.filter(user__username=user, revoked__isnull=True).count()
    return JsonResponse({"access": access, "refresh": refresh})


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view()),
    path("api/whoami", whoami),
    path("test/live-tokens", live_tokens),
]


def set_up():
    call_command("migrate", verbosity=0)
    User = get_user_model()
    User.objects.create_user("alice", email="alice@example.com", password="todo")
    common = {
        "client_type": Application.CLIENT_PUBLIC,
        "skip_authorization": True,
        "algorithm": Application.RS256_ALGORITHM,
    }
    Application.objects.create(
        name="Latchkey (any loopback port)",
        client_id="latchkey-any-port",
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/callback",
        post_logout_redirect_uris="http://127.0.0.1/callback",
        **common,
    )
    Application.objects.create(
        name="Latchkey (fixed ports)",
        client_id="latchkey-fixed-ports",
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"http://127.0.0.1:{FIXED_PORT}/callback",
        post_logout_redirect_uris=f"http://127.0.0.1:{FIXED_PORT}/callback",
        **common,
    )
    Application.objects.create(
        name="Latchkey (device)",
        client_id="latchkey-device",
        authorization_grant_type=Application.GRANT_DEVICE_CODE,
        **common,
    )


def serve():
    from django.core.servers.basehttp import WSGIServer, WSGIRequestHandler, get_internal_wsgi_application
    import socketserver

    class Server(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = Server(("127.0.0.1", PORT), Quiet)
    server.set_app(get_internal_wsgi_application())
    print(f"ready {ISSUER}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    set_up()
    serve()
