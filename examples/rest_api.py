"""REST API with JSON: a small in-memory item store.

    python examples/rest_api.py --port 8000
    curl -s localhost:8000/api/items
    curl -s -X POST -d '{"name": "apple"}' localhost:8000/api/items
    curl -s localhost:8000/api/items/1
    curl -s -X DELETE localhost:8000/api/items/1
"""

import argparse
import json

from pymongoose import MG_EV_HTTP_MSG, Manager

JSON = {"Content-Type": "application/json"}


class Store:
    def __init__(self):
        self.items = {}
        self.next_id = 1

    def handle(self, method, path, body):
        """Returns (status, payload) for one request."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["api", "items"] or len(parts) > 3:
            return 404, {"error": "not found"}
        if len(parts) == 2:
            if method == "GET":
                return 200, [{"id": k, **v} for k, v in sorted(self.items.items())]
            if method == "POST":
                try:
                    item = json.loads(body or b"{}")
                except ValueError:
                    return 400, {"error": "body is not JSON"}
                if not isinstance(item, dict) or "name" not in item:
                    return 400, {"error": "an object with a name is required"}
                item_id, self.next_id = self.next_id, self.next_id + 1
                self.items[item_id] = {"name": item["name"]}
                return 201, {"id": item_id, "name": item["name"]}
            return 405, {"error": "method not allowed"}
        try:
            item_id = int(parts[2])
        except ValueError:
            return 400, {"error": "bad id"}
        if item_id not in self.items:
            return 404, {"error": "no such item"}
        if method == "GET":
            return 200, {"id": item_id, **self.items[item_id]}
        if method == "DELETE":
            del self.items[item_id]
            return 200, {"deleted": item_id}
        return 405, {"error": "method not allowed"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    store = Store()

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            status, payload = store.handle(data.method, data.uri, data.body_bytes)
            conn.reply(status, json.dumps(payload), JSON)

    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"REST API on http://{args.host}:{listener.local_addr[1]}/api/items", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
