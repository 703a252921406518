"""IAM behaviours destroy relies on, as the IAM API reference describes them.

- RemoveRoleFromInstanceProfile of a role the profile does not hold answers NoSuchEntity
  (HTTP 404: "the request was rejected because it referenced a resource entity that does not
  exist"), like a profile or role that does not exist.
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_RemoveRoleFromInstanceProfile.html
  moto 5.2.5 raised a Python ValueError from list.remove, which the server answered as a bare
  HTML HTTP 500 that no SDK can read.
- An IAM user has a permissions boundary: CreateUser takes `PermissionsBoundary`,
  PutUserPermissionsBoundary sets it and DeleteUserPermissionsBoundary removes it, and GetUser
  reports it (`User.PermissionsBoundary` {PermissionsBoundaryType, PermissionsBoundaryArn}).
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPermissionsBoundary.html
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_User.html
  moto 5.2.5 ignored the parameter and had neither operation (its code says "ToDo").
"""


def _install_user_boundaries() -> None:
    from moto.core.responses import EmptyResult
    from moto.core.serialize import return_if_not_empty
    from moto.iam.models import User
    from moto.iam.responses import IamResponse

    def permissions_boundary(self):
        arn = getattr(self, "permissions_boundary_arn", None)
        if arn:
            return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}
        return None

    User.permissions_boundary = property(permissions_boundary)

    original_create = IamResponse.create_user

    def create_user(self):
        result = original_create(self)
        arn = self._get_param("PermissionsBoundary")
        if arn:
            self.backend.get_user(self._get_param("UserName")).permissions_boundary_arn = arn
        return result

    def put_user_permissions_boundary(self):
        user = self.backend.get_user(self._get_param("UserName"))
        user.permissions_boundary_arn = self._get_param("PermissionsBoundary")
        return EmptyResult()

    def delete_user_permissions_boundary(self):
        user = self.backend.get_user(self._get_param("UserName"))
        user.permissions_boundary_arn = None
        return EmptyResult()

    IamResponse.create_user = create_user
    IamResponse.put_user_permissions_boundary = put_user_permissions_boundary
    IamResponse.delete_user_permissions_boundary = delete_user_permissions_boundary
    for key in ("CreateUserResponse.User.PermissionsBoundary", "GetUserResponse.User.PermissionsBoundary"):
        IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER[key] = return_if_not_empty


def install() -> None:
    _install_user_boundaries()
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import IAMBackend

    def remove_role_from_instance_profile(self, profile_name, role_name):
        profile = self.get_instance_profile(profile_name)
        role = self.get_role(role_name)
        if role not in profile.roles:
            raise NotFoundException(f"Role {role_name} is not in instance profile {profile_name}.")
        profile.roles.remove(role)

    IAMBackend.remove_role_from_instance_profile = remove_role_from_instance_profile
