"""IAM behaviours destroy relies on, as the IAM API reference describes them.

- RemoveRoleFromInstanceProfile of a role the profile does not hold answers NoSuchEntity
  (HTTP 404: "the request was rejected because it referenced a resource entity that does not
  exist"), like a profile or role that does not exist.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_RemoveRoleFromInstanceProfile.html
  moto 5.2.5 raised a Python ValueError from list.remove, which the server answered as a bare
  HTML HTTP 500 that no SDK can read.
"""


def install() -> None:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import IAMBackend

    def remove_role_from_instance_profile(self, profile_name, role_name):
        profile = self.get_instance_profile(profile_name)
        role = self.get_role(role_name)
        if role not in profile.roles:
            raise NotFoundException(f"Role {role_name} is not in instance profile {profile_name}.")
        profile.roles.remove(role)

    IAMBackend.remove_role_from_instance_profile = remove_role_from_instance_profile
