import unittest

from app import app


class AppTests(unittest.TestCase):
    def setUp(self):
        self.client = app.test_client()

    def test_index(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.get_json()["app"], "flask_basic")

    def test_hello(self):
        response = self.client.get("/hello/dyno")
        self.assertEqual(response.get_json(), {"message": "Hello, dyno!"})


if __name__ == "__main__":
    unittest.main()
