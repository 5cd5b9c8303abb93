from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("personas", "0004_character_books_become_lorebooks")]

    operations = [migrations.RemoveField(model_name="persona", name="character_book")]
