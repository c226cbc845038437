import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from traceability.roles import ADMINISTRATORS, NO_ROLE_MESSAGE, QUALITY_MANAGERS, QUALITY_STAFF

from .inventory.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"

ADMIN_PAGES = ["admin:index", "admin:inventory_lot_changelist", "admin:inventory_product_add"]


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


# The admin site's own pages name its sign-in page; model pages fall back to LOGIN_URL.
@pytest.mark.parametrize(
    ("page", "login"),
    [
        ("admin:index", "admin:login"),
        ("admin:inventory_lot_changelist", "login"),
        ("admin:inventory_product_add", "login"),
    ],
)
def test_an_anonymous_visitor_of_the_admin_is_sent_to_sign_in(client, page, login):
    url = reverse(page)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse(login)}?next={url}"


def test_the_sign_in_page_opens(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "Sign in" in response.content.decode()


def test_signing_in_leads_to_the_dashboard(client, manager):
    response = client.post(reverse("login"), {"username": "manager", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_a_wrong_password_is_refused(client, manager):
    response = client.post(reverse("login"), {"username": "manager", "password": "wrong"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def _assert_no_role_page(response):
    assert response.status_code == 403
    assert "no_role.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "You have no role yet" in content
    assert str(NO_ROLE_MESSAGE) in content


def test_a_user_without_a_role_is_told_so_on_the_dashboard(client, no_role_user):
    client.force_login(no_role_user)

    _assert_no_role_page(client.get(reverse("home")))


@pytest.mark.parametrize("is_staff", [False, True], ids=["user", "staff user"])
@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_a_user_without_a_role_is_told_so_in_the_admin(client, page, is_staff):
    user = UserFactory(username="norole", is_staff=is_staff)
    client.force_login(user)

    _assert_no_role_page(client.get(reverse(page)))


def test_a_user_without_a_role_can_still_sign_out(client, no_role_user):
    client.force_login(no_role_user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", ["manager", "staff", "administrator"])
def test_every_role_opens_the_dashboard(client, request, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse("home"))

    assert response.status_code == 200


def test_a_superuser_holds_every_role(client, admin_user):
    client.force_login(admin_user)

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert response.context["user_roles"] == sorted(
        [ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF]
    )


def test_the_three_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        QUALITY_MANAGERS,
        QUALITY_STAFF,
        ADMINISTRATORS,
    }


def test_quality_managers_can_change_a_lot_status(manager):
    assert manager.has_perm("inventory.change_lot_status")
    assert manager.has_perm("inventory.change_serialunit_status")
    assert manager.has_perm("inventory.add_lot")
    assert not manager.has_perm("inventory.add_product")


def test_quality_staff_cannot_change_a_lot_status(staff):
    assert not staff.has_perm("inventory.change_lot_status")
    assert not staff.has_perm("inventory.change_lot")
    assert staff.has_perm("inventory.view_lot")
    assert staff.has_perm("inventory.add_servicerecord")


def test_administrators_can_add_products_and_users(administrator):
    assert administrator.has_perm("inventory.add_product")
    assert administrator.has_perm("inventory.change_lot_status")
    assert administrator.has_perm("auth.add_user")
    assert not administrator.has_perm("auth.change_group")


def test_an_administrator_who_is_staff_opens_the_admin(client, administrator):
    client.force_login(administrator)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert reverse("admin:inventory_product_add") in response.content.decode()


@pytest.mark.parametrize("role", [QUALITY_MANAGERS, QUALITY_STAFF, ADMINISTRATORS])
def test_no_role_may_delete_or_edit_the_audit_trail(role):
    codenames = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))

    # Lifting a sign-in lockout deletes django-axes' record of the failed attempts: not a
    # quality record, and the only deletion any role may make.
    deletions = {c for c in codenames if c.startswith("delete_")}
    assert deletions <= ({"delete_accessattempt"} if role == ADMINISTRATORS else set())
    assert not codenames & {"change_traceevent", "change_eventline", "change_genealogy"}
    assert not codenames & {"change_statuschange", "add_statuschange"}
