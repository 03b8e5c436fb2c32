from app import app


def test_index():
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.get_json()["app"] == "bloated"


def test_sensors_come_from_sqlite():
    response = app.test_client().get("/sensors")
    assert response.status_code == 200
    assert len(response.get_json()["sensors"]) == 8


def test_unknown_thumbnail_is_404():
    assert app.test_client().get("/thumbnail/missing").status_code == 404
