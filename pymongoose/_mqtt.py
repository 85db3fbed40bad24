"""Manager methods for MQTT (mqtt_connect, mqtt_listen)."""


class MqttManagerMixin:
    """Mixed into Manager; uses its _check(), _create(), _mid and _core."""
